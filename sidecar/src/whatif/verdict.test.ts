import { describe, expect, it } from "vitest";
import { compare, fromLogged, type Verdict } from "./verdict.js";

const allow = (...masks: string[]): Verdict => ({ outcome: "allow", reasons: [], masks });
const deny = (...reasons: string[]): Verdict => ({ outcome: "deny", reasons, masks: [] });
const approve = (reason: string, approve = `${reason} / dba / 300s`): Verdict => ({ outcome: "approve", reasons: [reason], masks: [], approve });

describe("compare", () => {
  it.each<[string, Verdict, Verdict, ReturnType<typeof compare>]>([
    ["same allow", allow("column a: redact"), allow("column a: redact"), undefined],
    ["allow to deny", allow("column a: redact"), deny("no"), { kind: "allow-to-deny", reasons: ["+ no"] }],
    ["deny to allow", deny("b", "a"), allow("column a: redact"), { kind: "deny-to-allow", reasons: ["- b", "- a"] }],
    ["allow to approve", allow(), approve("human"), { kind: "allow-to-approve", reasons: ["+ human"] }],
    ["approve to allow", approve("human"), allow(), { kind: "approve-to-allow", reasons: ["- human"] }],
    ["deny to approve", deny("x"), approve("human"), { kind: "deny-to-approve", reasons: ["+ human", "- x"] }],
    ["approve to deny", approve("human"), deny("x"), { kind: "approve-to-deny", reasons: ["+ x", "- human"] }],
    ["mask added", allow("column a: redact"), allow("column a: redact", "column b: hash"), { kind: "mask-added", reasons: ["+ mask column b: hash"] }],
    ["mask removed", allow("column a: redact"), allow(), { kind: "mask-removed", reasons: ["- mask column a: redact"] }],
    ["mask strategy changed", allow("column a: redact"), allow("column a: partial"), { kind: "mask-changed", reasons: ["+ mask column a: partial", "- mask column a: redact"] }],
    ["approvers changed", approve("human", "human / dba / 300s"), approve("human", "human / sec / 300s"), { kind: "approval-changed", reasons: ["+ approval human / sec / 300s", "- approval human / dba / 300s"] }],
    ["deny reasons changed", deny("a"), deny("a", "b"), { kind: "reasons-changed", reasons: ["+ b"] }],
  ])("%s", (_name, from, to, want) => {
    expect(compare(from, to)).toEqual(want);
  });
});

describe("fromLogged", () => {
  it("reads outcome and reasons from the event, masks and approval from the raw result", () => {
    const v = fromLogged({
      outcome: "approve",
      reasons: ["writes to public.payments need approval"],
      result: {
        allow: true,
        deny: [],
        mask: [{ column: "public.payments.card_number", strategy: "partial" }],
        approve: { reason: "writes to public.payments need approval", approvers: "dba-oncall", timeout_seconds: 300 },
      },
    });
    expect(v).toEqual({
      outcome: "approve",
      reasons: ["writes to public.payments need approval"],
      masks: ["column public.payments.card_number: partial"],
      approve: "writes to public.payments need approval / dba-oncall / 300s",
    });
  });

  it("keeps the error code of a fail-closed deny and drops masks of a deny", () => {
    expect(fromLogged({ outcome: "deny", reasons: ["policy returned no decision"], error: { code: "POLICY_UNDEFINED" }, result: { mask: [{ field: "x", strategy: "null" }] } })).toEqual({
      outcome: "deny",
      reasons: ["policy returned no decision"],
      masks: [],
      error_code: "POLICY_UNDEFINED",
    });
  });

  it("is undefined for an event without regate's outcome (OPA's own decision logs)", () => {
    expect(fromLogged({ result: { allow: true } })).toBeUndefined();
  });
});
