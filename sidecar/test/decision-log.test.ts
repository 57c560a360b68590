import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
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
  const out = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      cb();
    },
  });
  const log = createLogger({ level: "info", destination: out });
  const calls: string[] = [];
  // The real bundle, with its evaluations counted.
  const counted = (): ActivePolicy => {
    const p = store.active!;
    return new Proxy(p, {
      get(target, prop, receiver) {
        if (prop === "evaluate") return (entrypoint: string, value: ArrayBuffer) => (calls.push(entrypoint), target.evaluate(entrypoint, value));
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
  };
  const pipeline = new DecisionPipeline({
    policy: counted,
    entrypoint: "regate/decision",
    dryRun: false,
    logMask: true,
    sinks: [new DecisionLog(log.child({}, { redact: { paths: [] } }), { bundleName: "regate", labels: { app: "regate", env: "test" } })],
  });
  const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, any>);
  return { pipeline, calls, parsed, log };
}

describe("decision log line", () => {
  it("is one JSON line in OPA's event shape, in the logger's own format, with the input as the policy saw it", async () => {
    const { pipeline, parsed } = setup();
    // A statement the log mask leaves alone (no table with masked columns): logged exactly as decided.
    const i = input("pg-delete-with-where");
    const d = pipeline.decide(i);
    await new Promise((r) => setImmediate(r));
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
    const { pipeline, calls, parsed } = setup();
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
    // A decision that reuses the reuse still finds the operations.
    pipeline.decide(second, { reuse: d2 as Decision });
    expect(calls.length).toBe(2);
    await new Promise((r) => setImmediate(r));
    const lines = parsed();
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      expect(l["erased"]).toEqual(["/input/postgres/parameters"]);
      expect(l["input"]["postgres"]).not.toHaveProperty("parameters");
    }
    expect(JSON.stringify(lines)).not.toMatch(/alice|bob/);
    expect(lines[1]!["reused_from"]).toBe(d1.decision_id);
    // The inputs the adapters hold are untouched by the mask.
    expect(second.postgres!.parameters).toHaveLength(1);
  });

  it("writes nothing when the logger's level hides info, as before", async () => {
    const { pipeline, parsed, log } = setup();
    log.level = "warn";
    pipeline.decide(input("pg-read-orders"));
    await new Promise((r) => setImmediate(r));
    expect(parsed()).toHaveLength(0);
  });
});
