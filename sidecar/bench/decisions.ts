// Decisions per second, in process, for a realistic Postgres input, against the same policy served by OPA.
//
//   npx tsx sidecar/bench/decisions.ts
//
// Subject: DecisionPipeline (validation, precedence, system.log.mask, sinks) with the real bundle
// (build/bundle.tar.gz, policy compiled to WASM), on the golden input "pg-read-customers-masked"
// (SELECT id, email FROM customers: allowed with 4 column masks). Three sink set-ups: none; the decision log
// (pino, OPA's event shape) writing to /dev/null; decision log + Prometheus metrics, as `regate run` wires it.
//
// Baseline: `opa run --server` with the Rego sources the bundle is built from (rego/, tests ignored). OPA cannot
// serve the bundle itself: this opa build has no WebAssembly engine, and the Rego a `-t wasm` bundle carries is
// rewritten (the compiled entrypoints are taken out of it). So OPA evaluates the Rego (topdown) — the usual way
// it is deployed as a sidecar. Requests: POST /v1/data/regate/decision {"input": ...} over
// keep-alive HTTP/1.1, 8 in flight. Once with OPA's defaults (no decision logs), once with console decision
// logs (to /dev/null), which also evaluates system.log.mask as regate's pipeline always does.

import { closeSync, openSync, readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { setImmediate as tick } from "node:timers/promises";
import { pino } from "pino";
import { Metrics } from "../src/admin/index.js";
import { DecisionLog } from "../src/audit/index.js";
import { DecisionPipeline, type DecisionSink, type PolicyInput } from "../src/decision/index.js";
import { createLogger } from "../src/log.js";
import { packageRoot } from "../src/paths.js";
import { PolicyStore, type ActivePolicy } from "../src/policy/index.js";
import { freePort } from "../test/support/postgres.js";
import { startChild, waitFor } from "./support/children.js";
import { cpuWindow } from "./support/proc.js";
import { BUNDLE } from "./support/regate.js";
import { fmt, seconds, type SummaryRow } from "./support/report.js";
import { runScenario } from "./support/scenario.js";
import { distribution, ratio, type Distribution } from "./support/stats.js";

const CASE = "pg-read-customers-masked";
const OPA = join(packageRoot, ".bin", "opa");
const CONCURRENCY = 8;
const WARMUP_S = seconds(1, 0.3);
const MEASURE_S = seconds(4, 1);
const MAX_SAMPLES = 4_000_000;

interface InProcessResult {
  decisions: number;
  per_s: number;
  /** Decisions per CPU second of this process: what a core would do if it had one to itself. */
  per_cpu_s: number;
  /** CPU time / wall time during the run: below 1 when other processes took the core. */
  cpu_share: number;
  latency_us: Distribution;
}

function goldenInput(name: string): PolicyInput {
  const file = join(packageRoot, "testdata", "golden", "opa", "cases.json");
  const cases = (JSON.parse(readFileSync(file, "utf8")) as { golden_cases: { name: string; input: PolicyInput }[] }).golden_cases;
  const found = cases.find((c) => c.name === name);
  if (!found) throw new Error(`golden case ${name} not found in ${file}`);
  return found.input;
}

/** Calls `fn` in batches for `s` seconds, yielding to the event loop between batches (async log writes flush). */
async function loop(fn: () => void, s: number, samples?: Float64Array): Promise<{ n: number; elapsed_s: number }> {
  const started = performance.now();
  const end = started + s * 1000;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) {
      if (samples && n < samples.length) {
        const t = performance.now();
        fn();
        samples[n] = (performance.now() - t) * 1000;
      } else fn();
      n++;
    }
    await tick();
  }
  return { n, elapsed_s: (performance.now() - started) / 1000 };
}

async function measureInProcess(fn: () => void): Promise<InProcessResult> {
  await loop(fn, WARMUP_S);
  const samples = new Float64Array(MAX_SAMPLES);
  const cpu0 = process.cpuUsage();
  const { n, elapsed_s } = await loop(fn, MEASURE_S, samples);
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return {
    decisions: n,
    per_s: Math.round(n / elapsed_s),
    per_cpu_s: Math.round(n / cpuS),
    cpu_share: Math.round((cpuS / elapsed_s) * 100) / 100,
    latency_us: distribution(samples.subarray(0, Math.min(n, samples.length))),
  };
}

interface OpaResult {
  requests: number;
  per_s: number;
  /** CPU the opa process used per decision (server side only; the HTTP client's cost is not in it). */
  opa_cpu_us_per_decision?: number;
  machine_busy_pct?: number;
  errors: number;
  latency_us: Distribution;
  engine: string;
}

function post(agent: Agent, port: number, body: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: "127.0.0.1", port, method: "POST", path: "/v1/data/regate/decision", headers: { "content-type": "application/json", "content-length": body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function measureOpa(input: PolicyInput, consoleLogs: boolean): Promise<OpaResult> {
  const port = await freePort();
  const devnull = openSync("/dev/null", "w");
  const args = ["run", "--server", "--addr", `127.0.0.1:${port}`, "--log-level", consoleLogs ? "info" : "error", "--skip-version-check"];
  // Decision logs are written at info level; access logs are pushed down to debug so only decisions are logged.
  if (consoleLogs) args.push("--set", "decision_logs.console=true", "--log-level-request", "debug");
  args.push("--ignore", "*_test.rego", join(packageRoot, "rego"));
  const opa = startChild("opa", OPA, args, { cwd: packageRoot, stdout: devnull, stderr: consoleLogs ? devnull : "pipe" });
  closeSync(devnull);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    await waitFor("opa to serve", async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
      return res?.ok ? true : undefined;
    });
    const body = Buffer.from(JSON.stringify({ input }));
    const first = await post(agent, port, body);
    const result = (JSON.parse(first.body.toString("utf8")) as { result?: { allow?: boolean; mask?: unknown[] } }).result;
    if (first.status !== 200 || result?.allow !== true || result.mask?.length !== 4) {
      throw new Error(`opa answered ${first.status} ${first.body.toString("utf8").slice(0, 500)}; expected allow with 4 masks`);
    }
    const drive = async (s: number, samples?: number[]) => {
      let n = 0;
      let errors = 0;
      const end = performance.now() + s * 1000;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < end) {
            const t = performance.now();
            const res = await post(agent, port, body);
            samples?.push((performance.now() - t) * 1000);
            if (res.status !== 200) errors++;
            n++;
          }
        }),
      );
      return { n, errors, elapsed_s: (performance.now() - started) / 1000 };
    };
    await drive(WARMUP_S);
    const samples: number[] = [];
    const stop = cpuWindow({ opa: opa.pid });
    const { n, errors, elapsed_s } = await drive(MEASURE_S, samples);
    const w = stop();
    if (errors > 0) throw new Error(`opa answered ${errors} requests with a status other than 200`);
    return {
      requests: n,
      per_s: Math.round(n / elapsed_s),
      ...(w.ms["opa"] !== undefined ? { opa_cpu_us_per_decision: Math.round((w.ms["opa"] * 1000) / n) } : {}),
      ...(w.machine_busy_pct !== undefined ? { machine_busy_pct: w.machine_busy_pct } : {}),
      errors,
      latency_us: distribution(samples),
      engine: "rego (topdown)",
    };
  } finally {
    agent.destroy();
    await opa.stop();
  }
}

await runScenario({
  name: "decisions",
  description: `decisions/s: DecisionPipeline in process (WASM) vs opa run --server (Rego over HTTP, ${CONCURRENCY} in flight), input ${CASE}`,
  async run(log) {
    const input = goldenInput(CASE);
    const store = new PolicyStore(BUNDLE);
    const policy: ActivePolicy = await store.load();
    // As app.ts wires it: the process logger, with a child for decision events that skips wildcard redaction.
    const nullLog = () =>
      new DecisionLog(createLogger({ destination: pino.destination({ dest: "/dev/null", sync: false }) }).child({}, { redact: { paths: [] } }), {
        bundleName: "regate",
        labels: { app: "regate" },
      });
    const setups: { name: string; sinks: () => DecisionSink[] }[] = [
      { name: "no sinks", sinks: () => [] },
      { name: "decision log -> /dev/null", sinks: () => [nullLog()] },
      { name: "decision log + metrics (as regate run)", sinks: () => [nullLog(), new Metrics()] },
    ];

    const inProcess: Record<string, InProcessResult> = {};
    for (const setup of setups) {
      const pipeline = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: setup.sinks() });
      const d = pipeline.decide(input);
      if (d.outcome !== "allow" || d.mask.length !== 4) throw new Error(`unexpected decision ${JSON.stringify(d)}`);
      const r = await measureInProcess(() => pipeline.decide(input));
      inProcess[setup.name] = r;
      log(`in process, ${setup.name}: ${fmt(r.per_s)} decisions/s (p50 ${fmt(r.latency_us.p50)} us, p99 ${fmt(r.latency_us.p99)} us; ${fmt(r.per_cpu_s)} per CPU second, got ${r.cpu_share} of a core)`);
    }

    // Where a decision's time goes: the two policy evaluations alone.
    const decisionResult = policy.evaluate("regate/decision", input);
    const parts = {
      "evaluate regate/decision": await measureInProcess(() => policy.evaluate("regate/decision", input)),
      "evaluate system/log/mask": await measureInProcess(() => policy.evaluate("system/log/mask", { input, result: decisionResult, decision_id: "00000000-0000-4000-8000-000000000000" })),
    };
    for (const [name, r] of Object.entries(parts)) log(`breakdown, ${name}: p50 ${fmt(r.latency_us.p50)} us (${fmt(r.per_s)}/s)`);
    store.close();


    const opa: Record<string, OpaResult> = {
      "opa server": await measureOpa(input, false),
      "opa server + console decision logs": await measureOpa(input, true),
    };
    for (const [name, r] of Object.entries(opa)) {
      log(`${name}: ${fmt(r.per_s)} decisions/s (client-observed p50 ${fmt(r.latency_us.p50)} us, p99 ${fmt(r.latency_us.p99)} us; opa CPU ${fmt(r.opa_cpu_us_per_decision)} us/decision; machine busy ${r.machine_busy_pct}%)`);
    }

    const none = inProcess["no sinks"]!;
    const logged = inProcess["decision log -> /dev/null"]!;
    const app = inProcess["decision log + metrics (as regate run)"]!;
    const opaPlain = opa["opa server"]!;
    const opaLogged = opa["opa server + console decision logs"]!;
    const summary: SummaryRow[] = [
      { metric: "decisions/s in process, no sinks", value: none.per_s, unit: "/s", baseline: { label: "opa server", value: opaPlain.per_s }, ratio: ratio(none.per_s, opaPlain.per_s) },
      {
        metric: "decisions/s in process, decision log",
        value: logged.per_s,
        unit: "/s",
        baseline: { label: "opa server + decision log", value: opaLogged.per_s },
        ratio: ratio(logged.per_s, opaLogged.per_s),
      },
      {
        metric: "decisions/s in process, log + metrics",
        value: app.per_s,
        unit: "/s",
        baseline: { label: "opa server + decision log", value: opaLogged.per_s },
        ratio: ratio(app.per_s, opaLogged.per_s),
      },
      {
        metric: "CPU per decision, no sinks",
        value: Math.round(1e6 / none.per_cpu_s),
        unit: "us",
        baseline: { label: "opa server process", value: opaPlain.opa_cpu_us_per_decision ?? Number.NaN },
      },
      {
        metric: "CPU per decision, decision log",
        value: Math.round(1e6 / logged.per_cpu_s),
        unit: "us",
        baseline: { label: "opa server + decision log", value: opaLogged.opa_cpu_us_per_decision ?? Number.NaN },
      },
      { metric: "decision p50 in process, log + metrics", value: app.latency_us.p50, unit: "us" },
      { metric: "policy eval p50 (regate/decision)", value: parts["evaluate regate/decision"].latency_us.p50, unit: "us" },
      { metric: "policy eval p50 (system/log/mask)", value: parts["evaluate system/log/mask"].latency_us.p50, unit: "us" },
    ];
    return {
      results: { case: CASE, concurrency: CONCURRENCY, warmup_s: WARMUP_S, measure_s: MEASURE_S, revision: policy.revision, in_process: inProcess, breakdown: parts, opa },
      summary,
    };
  },
});
