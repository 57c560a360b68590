// policy.eval_timeout_ms: evaluation on a worker thread within a time budget (sidecar/src/policy/budgeted.ts),
// with real bundles built by the pinned opa CLI and the example bundle (build/bundle.tar.gz).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { RegateError } from "../../src/errors.js";
import { PolicyStore, type ActivePolicy } from "../../src/policy/index.js";
import { CASES_FILE, sortedMasks, type GoldenCase } from "../support/golden.js";
import { BUNDLE } from "../support/regate.js";
import { CAPABILITIES, OPA } from "./opa.js";

const golden = (JSON.parse(readFileSync(CASES_FILE, "utf8")) as { golden_cases: GoldenCase[] }).golden_cases;
const stores: PolicyStore[] = [];
const tmp = mkdtempSync(join(tmpdir(), "regate-eval-budget-"));

/** A bundle of `rego` (package regate) with the given entrypoints, built as `make bundle` does. */
function bundle(name: string, rego: string, entrypoints = ["regate/decision"]): string {
  const src = join(tmp, `${name}-src`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, "policy.rego"), rego);
  const out = join(tmp, `${name}.tar.gz`);
  execFileSync(OPA, ["build", "-t", "wasm", ...entrypoints.flatMap((e) => ["-e", e]), "--capabilities", CAPABILITIES, "-r", name, "-o", out, src], { stdio: "pipe", timeout: 120_000 });
  return out;
}

async function load(path: string, evalTimeoutMs: number): Promise<PolicyStore> {
  const store = new PolicyStore(path, { evalTimeoutMs });
  stores.push(store);
  await store.load();
  return store;
}

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).buffer as ArrayBuffer;

/**
 * Evaluates until the replacement worker has loaded (refusals meanwhile must be POLICY_EVAL_RESTARTING, or one
 * of `transient`: with a 1 ms budget on a loaded machine even a trivial evaluation may overrun).
 */
async function onceLoaded(fn: () => unknown, transient: readonly string[] = []): Promise<unknown> {
  const end = performance.now() + 20_000;
  for (;;) {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof RegateError) || !(e.code === "POLICY_EVAL_RESTARTING" || transient.includes(e.code)) || performance.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function thrown(fn: () => unknown): RegateError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RegateError) return e;
    throw e;
  }
  throw new Error("expected a RegateError");
}

// "spin" searches N x N pairs for one that never matches (seconds for N = 1500); "boom" conflicts.
const FAULTS = `package regate

spin if {
	input.spin
	some i in numbers.range(1, 1500)
	some j in numbers.range(1, 1500)
	i * j == -1
}

boom if input.boom

decision := {"allow": true, "deny": [], "mask": []} if not spin

decision := {"allow": false, "deny": ["boom"], "mask": []} if boom

echo := input
`;

let faults: string;

beforeAll(() => {
  faults = bundle("faults", FAULTS, ["regate/decision", "regate/echo"]);
});

afterAll(() => {
  for (const s of stores) s.close();
});

describe("budgeted evaluation (worker thread)", () => {
  it("gives every golden case the same result as the main-thread engine, for both entrypoints", async () => {
    const direct = (await load(BUNDLE, 0)).active!;
    const worker = (await load(BUNDLE, 1000)).active!;
    expect(worker.revision).toBe(direct.revision);
    expect([...worker.entrypoints].sort()).toEqual([...direct.entrypoints].sort());
    for (const c of golden) {
      const d = direct.evaluate("regate/decision", bytes(c.input));
      expect(worker.evaluate("regate/decision", bytes(c.input)), c.name).toEqual(d);
      const event = { input: c.input, decision_id: "00000000-0000-4000-8000-000000000000", result: d };
      expect(worker.evaluate("system/log/mask", bytes(event)), c.name).toEqual(direct.evaluate("system/log/mask", bytes(event)));
    }
  });

  it("decides the golden cases as expected through the pipeline", async () => {
    const store = await load(BUNDLE, 1000);
    const pipeline = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
    for (const c of golden) {
      const d = pipeline.decide(c.input);
      expect(d.error_code, c.name).toBeUndefined();
      expect(d.outcome, c.name).toBe(c.expect.outcome);
      if (c.expect.reason && c.expect.outcome === "deny") expect(d.reasons).toContain(c.expect.reason);
      if (c.expect.masks !== undefined) expect(sortedMasks(d.mask)).toEqual(sortedMasks(c.expect.masks));
    }
  });

  it("stops an evaluation past the budget, denies it with POLICY_EVAL_TIMEOUT, and the next one works", async () => {
    const store = await load(faults, 250);
    const policy = store.active!;
    const pipeline = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
    const t0 = performance.now();
    const d = pipeline.decide({ spin: true } as never);
    const took = performance.now() - t0;
    expect(d.outcome).toBe("deny");
    expect(d.error_code).toBe("POLICY_EVAL_TIMEOUT");
    expect(d.reasons[0]).toMatch(/ran past policy.eval_timeout_ms \(250 ms\)/);
    expect(took).toBeGreaterThanOrEqual(249);
    expect(took).toBeLessThan(1000); // unbudgeted, 1500 x 1500 pairs take seconds
    // The spare worker took over: the next decision is evaluated at once. No clock is read here: a worker still
    // starting is waited for only within the budget (250 ms), then refused POLICY_EVAL_RESTARTING, so an answer
    // shows no worker start (hundreds of ms under tsx) was in its way, as a 300 ms bound did.
    const next = pipeline.decide({} as never);
    expect(next.error_code).toBeUndefined();
    expect(next.outcome).toBe("allow");
    // On a machine starved of CPU (CI beside other suites) even an echo can miss 250 ms: that is a timeout
    // handled like any other, and the answer after it must still come back right.
    expect(await onceLoaded(() => policy.evaluate("regate/echo", bytes({ n: 1 })), ["POLICY_EVAL_TIMEOUT"])).toEqual({ n: 1 });
    // And a second timeout is handled the same way. Its replacement is the spare started at the first one,
    // which may still be loading on a busy machine (tsx compiles the worker): then refused, never run unbudgeted.
    expect(thrown(() => policy.evaluate("regate/decision", bytes({ spin: true }))).code).toBe("POLICY_EVAL_TIMEOUT");
    expect(await onceLoaded(() => policy.evaluate("regate/echo", bytes({ n: 2 })))).toEqual({ n: 2 });
  }, 30_000);

  it("refuses with POLICY_EVAL_RESTARTING when the fresh worker is not ready within the budget", async () => {
    // 1 ms: the spare (loaded at activation) takes over after the first overrun; after the second one the
    // new spare cannot have loaded yet (tens of ms at least), so the decision right after it is refused.
    const store = await load(faults, 1);
    const policy = store.active!;
    expect(thrown(() => policy.evaluate("regate/decision", bytes({ spin: true }))).code).toBe("POLICY_EVAL_TIMEOUT");
    expect(thrown(() => policy.evaluate("regate/decision", bytes({ spin: true }))).code).toBe("POLICY_EVAL_TIMEOUT");
    const e = thrown(() => policy.evaluate("regate/decision", bytes({})));
    expect(e.code).toBe("POLICY_EVAL_RESTARTING");
    expect(e.sqlstate).toBe("55000");
    // Once loaded it serves again.
    expect(await onceLoaded(() => policy.evaluate("regate/echo", bytes({ ok: true })), ["POLICY_EVAL_TIMEOUT"])).toEqual({ ok: true });
  }, 30_000);

  it("reports an evaluation error as POLICY_EVAL_FAILED and keeps serving", async () => {
    const policy = (await load(faults, 1000)).active!;
    const e = thrown(() => policy.evaluate("regate/decision", bytes({ boom: true })));
    expect(e.code).toBe("POLICY_EVAL_FAILED");
    expect(String((e.cause as Error | undefined)?.message)).toMatch(/conflict|complete rule/i);
    expect(policy.evaluate("regate/decision", bytes({}))).toEqual({ allow: true, deny: [], mask: [] });
  });

  it("carries inputs and results larger than the shared buffer (it grows on both sides)", async () => {
    const policy = (await load(faults, 5000)).active!;
    for (const size of [1000, 300_000, 5_000_000, 2000]) {
      const input = { text: "x".repeat(size), list: Array.from({ length: size / 1000 }, (_, i) => ({ i, s: "é€" })) };
      expect(policy.evaluate("regate/echo", bytes(input))).toEqual(input);
    }
  }, 30_000);

  it("picks up a hot-reloaded bundle; the replaced revision's worker is stopped", async () => {
    const allow = bundle("reload-a", 'package regate\n\ndecision := {"allow": true, "deny": [], "mask": []}\n');
    const deny = bundle("reload-b", 'package regate\n\ndecision := {"allow": false, "deny": ["reloaded"], "mask": []}\n');
    const path = join(tmp, "live.tar.gz");
    writeFileSync(path, readFileSync(allow));
    const store = await load(path, 1000);
    const first: ActivePolicy = store.active!;
    const pipeline = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
    expect(pipeline.decide({} as never).outcome).toBe("allow");
    const loaded = new Promise<string>((r) => store.once("loaded", (revision) => r(revision)));
    store.watch(50);
    writeFileSync(`${path}.new`, readFileSync(deny));
    renameSync(`${path}.new`, path);
    expect(await loaded).toBe("reload-b");
    expect(pipeline.decide({} as never)).toMatchObject({ outcome: "deny", reasons: ["reloaded"], revision: "reload-b" });
    expect(thrown(() => first.evaluate("regate/decision", bytes({}))).code).toBe("POLICY_NOT_LOADED");
  }, 30_000);
});
