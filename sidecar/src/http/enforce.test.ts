import { describe, expect, it } from "vitest";
import type { Decider } from "../decision/decider.js";
import type { Decision, PolicyInput } from "../decision/types.js";
import { decideAll, refusal } from "./enforce.js";

const d = (over: Partial<Decision>): Decision => ({ decision_id: "d", outcome: "allow", reasons: [], mask: [], dry_run: false, revision: "r", ...over });
const decider = (decisions: Decision[]): Decider => {
  let i = 0;
  return { decide: () => decisions[i++]! };
};
const inputs = (n: number): PolicyInput[] => Array.from({ length: n }, () => ({}) as PolicyInput);

describe("decideAll", () => {
  it("allows when every decision allows, with every mask", () => {
    const v = decideAll(decider([d({ decision_id: "a", mask: [{ field: "x", strategy: "redact" }] }), d({ decision_id: "b", mask: [{ detector: "email", strategy: "hash" }] })]), inputs(2), "f");
    expect(v.allowed).toBe(true);
    expect(v.decision.decision_id).toBe("a");
    expect(v.mask).toHaveLength(2);
  });

  it("one decision's mask rules are its own array, so the gateway finds its masker for them by identity (maskers.ts)", () => {
    const rules = [{ field: "email", strategy: "partial" as const }];
    const v = decideAll(decider([d({ mask: rules })]), inputs(1), "f");
    expect(v.mask).toBe(rules);
  });

  it("one deny in a batch denies the request; deny beats approve", () => {
    const v = decideAll(decider([d({}), d({ decision_id: "ap", outcome: "approve" }), d({ decision_id: "dn", outcome: "deny" })]), inputs(3), "f");
    expect(v).toMatchObject({ allowed: false, decision: { decision_id: "dn" } });
  });

  it("dry-run decisions let the request through", () => {
    expect(decideAll(decider([d({ outcome: "deny", dry_run: true })]), inputs(1), "f").allowed).toBe(true);
  });

  it("a throwing decider is a fail-closed deny", () => {
    const v = decideAll({ decide: () => { throw new Error("boom"); } }, inputs(1), "fallback");
    expect(v).toMatchObject({ allowed: false, decision: { outcome: "deny", error_code: "POLICY_EVAL_FAILED", decision_id: "fallback" } });
  });
});

describe("refusal", () => {
  it.each([
    [d({ outcome: "deny", reasons: ["no deletes", "not today"] }), 403, { error: "denied", code: "POLICY_DENIED", reason: expect.stringMatching(/^regate refused this request: no\ deletes;\ not\ today \(decision [^)]+\)\. Next: .+\.$/), decision_id: "d", next_step: "change the request; the same one will be refused again" }],
    [d({ outcome: "deny", status: 429, reasons: ["slow down"] }), 429, { error: "denied", reason: expect.stringMatching(/^regate refused this request: slow\ down \(decision [^)]+\)\. Next: .+\.$/) }],
    [d({ outcome: "deny", status: 200 }), 403, { error: "denied", reason: expect.stringMatching(/^regate refused this request: denied\ by\ policy \(decision [^)]+\)\. Next: .+\.$/) }],
    [d({ outcome: "approve", approve: { reason: "refunds need a human", approvers: "finance", timeout_seconds: 60 } }), 403, { error: "approval_required", code: "APPROVAL_REQUIRED", reason: expect.stringMatching(/^regate refused this request: approval\ required:\ refunds\ need\ a\ human \(decision [^)]+\)\. Next: .+\.$/) }],
    [d({ outcome: "deny", error_code: "POLICY_UNDEFINED" }), 403, { error: "denied", code: "POLICY_UNDEFINED", reason: expect.stringMatching(/^regate refused this request: policy\ returned\ no\ decision \(decision [^)]+\)\. Next: .+\.$/), next_step: "tell an operator: the policy gave no decision" }],
    [d({ outcome: "deny", error_code: "POLICY_NOT_LOADED" }), 503, { code: "POLICY_NOT_LOADED" }],
    [d({ outcome: "deny", error_code: "SOMETHING_NEW" }), 403, { code: "POLICY_EVAL_FAILED" }],
  ])("%#", (decision, status, body) => {
    const r = refusal(decision);
    expect(r.status).toBe(status);
    expect(r.body).toMatchObject(body);
  });
});
