// `regate eval` and `regate whatif` evaluate within the same budget as `regate run` (policy.eval_timeout_ms,
// default 1000 ms): they try out policies nobody has run yet, and one that loops on some input must be reported
// as a timeout for that input, not hang the command. Real bundles built by the pinned opa CLI.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { whatIf } from "../../src/whatif/index.js";
import { exec } from "../support/exec.js";
import { wasmBundle } from "./opa.js";
import { regateArgv } from "../support/compiled-regate.js";

const dir = mkdtempSync(join(tmpdir(), "regate-eval-budget-cli-"));

// 10^9 triples: minutes unbudgeted. The range is a rule, evaluated once: called inside the loop it would be
// allocated again on every iteration, and the policy's memory ran out (POLICY_EVAL_FAILED) before the budget
// on an idle machine.
const SPIN = `package regate

r := numbers.range(1, 1000)

spin if {
	input.spin
	some i in r
	some j in r
	some k in r
	i < j
	j < k
	k < i
}

decision := {"allow": true, "deny": [], "mask": []} if not spin
`;

let spin: string;

beforeAll(() => {
  spin = wasmBundle("spin", { "policy.rego": SPIN }, ["regate/decision"]);
});

const logLine = (id: string, input: Record<string, unknown>) =>
  JSON.stringify({
    type: "openpolicyagent.org/decision_logs",
    msg: "Decision Log",
    decision_id: id,
    path: "regate/decision",
    input: { version: 1, kind: "http", session: { principal: { subject: "alice" } }, http: { method: "GET", path: `/${id}` }, ...input },
    result: { allow: true, deny: [], mask: [] },
    bundles: { regate: { revision: "r1" } },
    outcome: "allow",
    reasons: [],
  });

describe("regate eval and whatif are budgeted", () => {
  it("regate eval refuses a looping input with POLICY_EVAL_TIMEOUT after the default 1000 ms", async () => {
    const input = join(dir, "spin.json");
    writeFileSync(input, JSON.stringify({ input: { spin: true } }));
    const t0 = performance.now();
    const r = await exec(process.execPath, regateArgv("eval", "--input", input, "--bundle", spin), { timeoutMs: 60_000 });
    const took = performance.now() - t0;
    expect(r.status, r.stderr).toBe(2);
    const decision = JSON.parse(r.stdout) as { outcome: string; error_code: string; reasons: string[] };
    expect(decision).toMatchObject({ outcome: "deny", error_code: "POLICY_EVAL_TIMEOUT" });
    expect(decision.reasons[0]).toMatch(/ran past policy.eval_timeout_ms \(1000 ms\)/);
    expect(took).toBeLessThan(45_000);
  }, 90_000);

  it("regate whatif reports the input a candidate loops on as changed by POLICY_EVAL_TIMEOUT, and the rest as unchanged", async () => {
    const log = join(dir, "decisions.log");
    writeFileSync(log, `${logLine("spin", { spin: true })}\n${logLine("ok", {})}\n`);
    const report = await whatIf({ candidate: spin, sources: [log], evalTimeoutMs: 250 });
    expect(report.decisions).toBe(2);
    expect(report.unchanged).toBe(1);
    const text = JSON.stringify(report.changes);
    expect(text).toMatch(/ran past policy.eval_timeout_ms \(250 ms\)/);
  }, 60_000);
});
