import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { DecisionLog } from "../src/audit/index.js";
import { DecisionPipeline, type Decision, type PolicyInput } from "../src/decision/index.js";
import { createLogger } from "../src/log.js";
import { packageRoot } from "../src/paths.js";
import { PolicyStore, type ActivePolicy } from "../src/policy/index.js";
import { BUNDLE } from "./support/regate.js";

// The decision-log line is assembled as text around pre-serialised parts (audit/opa-event.ts), and the
// log mask is evaluated once per reuse scope: both checked here against the real bundle.

const cases = (JSON.parse(readFileSync(join(packageRoot, "testdata/golden/opa/cases.json"), "utf8")) as { golden_cases: { name: string; input: PolicyInput }[] }).golden_cases;
const input = (name: string) => structuredClone(cases.find((c) => c.name === name)!.input);

let store: PolicyStore;
beforeAll(async () => {
  store = new PolicyStore(BUNDLE);
  await store.load();
});

function setup() {
  const lines: string[] = [];
  let writes = 0;
  const destination = {
    write(chunk: string) {
      writes++;
      lines.push(...chunk.split("\n").filter(Boolean));
    },
  };
  const log = createLogger({ level: "info", destination });
  const calls: string[] = [];
  // The real bundle, with its evaluations counted: one loaded policy (a decision is reused only under the one that took it).
  const proxy: ActivePolicy = new Proxy(store.active!, {
    get(target, prop, receiver) {
      if (prop === "evaluate") return (entrypoint: string, value: ArrayBuffer) => (calls.push(entrypoint), target.evaluate(entrypoint, value));
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  const counted = (): ActivePolicy => proxy;
  const sink = new DecisionLog(log.child({}, { redact: { paths: [] } }), { bundleName: "regate", labels: { app: "regate", env: "test" } });
  const pipeline = new DecisionPipeline({
    policy: counted,
    entrypoint: "regate/decision",
    dryRun: false,
    logMask: true,
    sinks: [sink],
  });
  const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, any>);
  return { pipeline, calls, parsed, log, sink, writes: () => writes };
}

describe("decision log line", () => {
  it("is one JSON line in OPA's event shape, in the logger's own format, with the input as the policy saw it", async () => {
    const { pipeline, parsed, sink } = setup();
    // A statement the log mask leaves alone (no table with masked columns): logged exactly as decided.
    const i = input("pg-delete-with-where");
    const d = pipeline.decide(i);
    sink.flush();
    const [line] = parsed();
    expect(Object.keys(line!)).toEqual(["level", "time", "service", "type", "decision_id", "labels", "path", "input", "result", "bundles", "metrics", "timestamp", "outcome", "reasons", "msg"]);
    expect(line).toMatchObject({
      level: "info",
      service: "regate",
      type: "openpolicyagent.org/decision_logs",
      decision_id: d.decision_id,
      labels: { app: "regate", env: "test" },
      path: "regate/decision",
      input: i,
      bundles: { regate: { revision: store.active!.revision } },
      outcome: d.outcome,
      reasons: d.reasons,
      msg: "Decision Log",
    });
    expect(line!["time"]).toBe(line!["timestamp"]);
    expect(line!["metrics"]["timer_rego_query_eval_ns"]).toBeGreaterThan(0);
  });

  it("a reused decision is logged with the mask its scope was logged with, without evaluating the mask again", async () => {
    const { pipeline, calls, parsed, sink } = setup();
    const first = input("pg-read-customers-masked");
    first.postgres!.parameters = [{ value: "alice@example.com", format: "text", type_oid: 25 }] as never;
    const d1 = pipeline.decide(first);
    expect(d1.cache).toBeDefined();
    expect(calls).toEqual(["regate/decision", "system/log/mask"]);
    const second = input("pg-read-customers-masked");
    second.postgres!.parameters = [{ value: "bob@example.com", format: "text", type_oid: 25 }] as never;
    const d2 = pipeline.decide(second, { reuse: d1 });
    expect(d2.reused_from).toBe(d1.decision_id);
    expect(calls).toEqual(["regate/decision", "system/log/mask"]);
    const d3 = pipeline.decide(second, { reuse: d1 });
    expect(d3.reused_from).toBe(d1.decision_id);
    expect(calls.length).toBe(2);
    // A reuse is the prior with its own id and reused_from, members in the prior's order (built from a kept shape).
    for (const d of [d2, d3]) {
      const expected = { ...d1, decision_id: d.decision_id, reused_from: d1.decision_id };
      expect(d).toEqual(expected);
      expect(Object.keys(d)).toEqual(Object.keys(expected));
    }
    expect(new Set([d1.decision_id, d2.decision_id, d3.decision_id]).size).toBe(3);
    // A reuse is not a prior of its own (the adapters keep only evaluated decisions): handed one, the
    // pipeline evaluates anew, mask included.
    const d4 = pipeline.decide(second, { reuse: d2 as Decision });
    expect(d4.reused_from).toBeUndefined();
    expect(calls).toEqual(["regate/decision", "system/log/mask", "regate/decision", "system/log/mask"]);
    sink.flush();
    const lines = parsed();
    expect(lines).toHaveLength(4);
    for (const l of lines) {
      expect(l["erased"]).toEqual(["/input/postgres/parameters"]);
      expect(l["input"]["postgres"]).not.toHaveProperty("parameters");
    }
    expect(JSON.stringify(lines)).not.toMatch(/alice|bob/);
    expect(lines.map((l) => l["reused_from"])).toEqual([undefined, d1.decision_id, d1.decision_id, undefined]);
    // Each reuse logs the decision it stands for (its result is serialised once and shared).
    for (const l of lines.slice(1, 3)) {
      expect(l["result"]).toEqual({ allow: true, deny: [], mask: d1.mask, cache: d1.cache });
      expect(l["outcome"]).toBe(d1.outcome);
    }
    // The inputs the adapters hold are untouched by the mask.
    expect(second.postgres!.parameters).toHaveLength(1);
  });

  it("writes nothing when the logger's level hides info, as before", async () => {
    const { pipeline, parsed, log, sink } = setup();
    log.level = "warn";
    pipeline.decide(input("pg-read-orders"));
    sink.flush();
    expect(parsed()).toHaveLength(0);
  });

  it("waits for its batch: the lines of many decisions leave in one write, shortly after", async () => {
    const { pipeline, parsed, writes } = setup();
    for (let i = 0; i < 20; i++) pipeline.decide(input("pg-read-orders"));
    // The statements were decided; their lines are not on their way upstream.
    expect(parsed()).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(parsed()).toHaveLength(20);
    expect(writes()).toBe(1);
  });

  it("loses nothing when the process exits before the batch is due", () => {
    // A process that decides and exits at once, through pino's asynchronous destination on stdout (as regate's):
    // the batch (well under BATCH_BYTES) was never handed to the destination before the exit.
    const script = `
      import { pino } from "pino";
      import { DecisionLog } from "./sidecar/src/audit/index.js";
      import { DecisionPipeline } from "./sidecar/src/decision/index.js";
      import { PolicyStore } from "./sidecar/src/policy/index.js";
      const store = new PolicyStore(${JSON.stringify(BUNDLE)}, { evalTimeoutMs: 0 });
      await store.load();
      const log = pino({}, pino.destination({ dest: 1, sync: false }));
      const pipeline = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [new DecisionLog(log, { bundleName: "regate", labels: {} })] });
      const input = ${JSON.stringify(input("pg-read-orders"))};
      for (let i = 0; i < 50; i++) pipeline.decide(input);
      process.exit(0);
    `;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: packageRoot, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
    const written = out.toString("utf8").split("\n").filter(Boolean);
    expect(written).toHaveLength(50);
    expect(written.every((l) => (JSON.parse(l) as { msg: string }).msg === "Decision Log")).toBe(true);
  });
});
