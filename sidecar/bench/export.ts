// Cost per decision of decision export: OCSF JSON lines and OPA decision-log upload, in process.
//
//   npx tsx sidecar/bench/export.ts            (BENCH_QUICK=1 for a smoke run)
//
// Subject: DecisionPipeline with the real bundle on the golden input "pg-read-customers-masked", the decision log
// (pino -> /dev/null) on as `regate run` has it. Set-ups, measured one after another in this process:
//   baseline       decision log only
//   + ocsf         OCSF 1.5 event per decision, JSON lines to /dev/null
//   + upload       OPA decision-log upload (gzip'd chunks of 32 KiB) to a collector in a child process (answers 200)
//   + both
// The figure is CPU per decision (this process's CPU time / decisions), and the difference to the baseline: the
// cost of the exporter. The collector's own CPU is not counted (it runs in another process).

import { spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { setImmediate as tick } from "node:timers/promises";
import { pino } from "pino";
import { DecisionLog } from "../src/audit/index.js";
import { DecisionPipeline, type DecisionSink, type PolicyInput } from "../src/decision/index.js";
import { createExporters, LineSink, toOcsf, type ExportSettings, type Exporters } from "../src/export/index.js";
import { createLogger } from "../src/log.js";
import { packageRoot } from "../src/paths.js";
import { PolicyStore } from "../src/policy/index.js";
import { BUNDLE } from "./support/regate.js";
import { fmt, seconds, type SummaryRow } from "./support/report.js";
import { runScenario } from "./support/scenario.js";
import { distribution, type Distribution } from "./support/stats.js";

const CASE = "pg-read-customers-masked";
const WARMUP_S = seconds(1, 0.3);
const MEASURE_S = seconds(4, 1);

interface Result {
  decisions: number;
  per_s: number;
  cpu_us_per_decision: number;
  latency_us: Distribution;
  upload?: Record<string, unknown>;
}

function goldenInput(name: string): PolicyInput {
  const cases = (JSON.parse(readFileSync(join(packageRoot, "testdata", "golden", "opa", "cases.json"), "utf8")) as { golden_cases: { name: string; input: PolicyInput }[] }).golden_cases;
  const found = cases.find((c) => c.name === name);
  if (!found) throw new Error(`golden case ${name} not found`);
  return found.input;
}

/** Decides in batches of 256 for `s` seconds, yielding between batches so log writes and uploads run. */
async function measure(fn: () => void, s: number): Promise<Result> {
  const samples = new Float64Array(4_000_000);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const end = started + s * 1000;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) {
      const t = performance.now();
      fn();
      if (n < samples.length) samples[n] = (performance.now() - t) * 1000;
      n++;
    }
    await tick();
  }
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { decisions: n, per_s: Math.round(n / elapsed), cpu_us_per_decision: Math.round(((cpu.user + cpu.system) / n) * 100) / 100, latency_us: distribution(samples.subarray(0, Math.min(n, samples.length))) };
}

/** A collector in its own process: reads each body, answers 200. Prints its port. */
async function startCollector(): Promise<{ url: string; stop(): void }> {
  const code = `const s=require("node:http").createServer((q,r)=>{q.resume();q.on("end",()=>r.end("{}"))});s.listen(0,"127.0.0.1",()=>console.log(s.address().port))`;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim()));
    child.once("exit", (c) => reject(new Error(`collector exited ${c}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

await runScenario({
  name: "export",
  description: `CPU per decision of OCSF export and OPA decision-log upload (DecisionPipeline in process, input ${CASE})`,
  async run(log) {
    const input = goldenInput(CASE);
    const store = new PolicyStore(BUNDLE);
    await store.load();
    const collector = await startCollector();
    const decisionLog = () =>
      new DecisionLog(createLogger({ destination: pino.destination({ dest: "/dev/null", sync: false }) }).child({}, { redact: { paths: [] } }), { bundleName: "regate", labels: { app: "regate" } });
    const ocsf = () => new LineSink(createWriteStream("/dev/null"), (e) => JSON.stringify(toOcsf(e, { product_version: "bench", bundle_name: "regate" })), true);
    const upload = (): Exporters => {
      const cfg: ExportSettings = {
        decision_logs: { enabled: true, service_url: collector.url, path: "/logs", min_delay_seconds: 1, max_delay_seconds: 2, upload_size_limit_bytes: 32768, buffer_size_limit_events: 10000, buffer_size_limit_bytes: 67108864, buffer_policy: "drop_oldest", timeout_ms: 10000 },
        ocsf: { enabled: false, sink: "stdout", file: "unused.jsonl", splunk: { source: "regate", sourcetype: "ocsf:regate" }, min_delay_seconds: 1, max_delay_seconds: 5, upload_size_limit_bytes: 262144, buffer_size_limit_events: 10000, buffer_size_limit_bytes: 67108864, buffer_policy: "drop_oldest", timeout_ms: 10000 },
      };
      return createExporters(cfg, { log: pino({ level: "silent" }), bundle_name: "regate", labels: { app: "regate" }, product_version: "bench" });
    };
    const setups: { name: string; sinks: () => { sinks: DecisionSink[]; exporters?: Exporters } }[] = [
      { name: "baseline", sinks: () => ({ sinks: [decisionLog()] }) },
      { name: "+ ocsf", sinks: () => ({ sinks: [decisionLog(), ocsf()] }) },
      { name: "+ upload", sinks: () => { const ex = upload(); return { sinks: [decisionLog(), ...ex.sinks], exporters: ex }; } },
      { name: "+ both", sinks: () => { const ex = upload(); return { sinks: [decisionLog(), ocsf(), ...ex.sinks], exporters: ex }; } },
    ];
    const results: Record<string, Result> = {};
    try {
      for (const setup of setups) {
        const { sinks, exporters } = setup.sinks();
        const pipeline = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks });
        await measure(() => pipeline.decide(input), WARMUP_S);
        const r = await measure(() => pipeline.decide(input), MEASURE_S);
        if (exporters) {
          await exporters.close();
          r.upload = exporters.stats()["decision_logs"] as unknown as Record<string, unknown>;
        }
        results[setup.name] = r;
        log(`${setup.name}: ${fmt(r.per_s)} decisions/s, ${r.cpu_us_per_decision} us CPU per decision, p50 ${fmt(r.latency_us.p50)} us, p99 ${fmt(r.latency_us.p99)} us${r.upload ? `; upload ${JSON.stringify(r.upload)}` : ""}`);
      }
    } finally {
      collector.stop();
      store.close();
    }
    const base = results["baseline"]!;
    const added = (name: string) => Math.round((results[name]!.cpu_us_per_decision - base.cpu_us_per_decision) * 100) / 100;
    const summary: SummaryRow[] = [
      { metric: "CPU per decision, decision log only", value: base.cpu_us_per_decision, unit: "us" },
      ...["+ ocsf", "+ upload", "+ both"].map((name) => ({
        metric: `CPU per decision, ${name}`,
        value: results[name]!.cpu_us_per_decision,
        unit: "us",
        baseline: { label: "decision log only", value: base.cpu_us_per_decision },
        ratio: Math.round((base.cpu_us_per_decision / results[name]!.cpu_us_per_decision) * 100) / 100,
        note: `adds ${added(name)} us per decision`,
      })),
    ];
    return { results: { case: CASE, warmup_s: WARMUP_S, measure_s: MEASURE_S, setups: results }, summary };
  },
});
