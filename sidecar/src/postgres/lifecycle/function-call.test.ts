import { describe, expect, it } from "vitest";
import type { Decision } from "../../decision/index.js";
import { fastpathVeto, unmaskedRefusal } from "./function-call.js";

const base: Decision = { decision_id: "d-1", outcome: "allow", reasons: [], mask: [], dry_run: false, revision: "r" };
const masked: Decision = { ...base, mask: [{ column: "public.customers.ssn", strategy: "redact" }] };
const detector: Decision = { ...base, mask: [{ detector: "email", strategy: "redact" }] };

describe("fastpath FunctionCall and masks", () => {
  it.each([
    ["query", masked, undefined],
    ["bind", masked, undefined],
    ["function_call", base, undefined],
    ["function_call", masked, "MASK_LINEAGE_UNKNOWN"],
    ["function_call", detector, "MASK_LINEAGE_UNKNOWN"],
  ] as const)("veto for a %s decision: %#", (message, d, code) => {
    expect(fastpathVeto(message)?.(d)?.error_code).toBe(code);
  });

  it.each([
    ["allow, no mask", base, undefined],
    ["allow with a mask (an approval's allow keeps the policy's masks)", masked, "deny"],
    ["deny", { ...masked, outcome: "deny" as const }, undefined],
  ])("at enforce time, %s", (_name, d, outcome) => {
    const r = unmaskedRefusal(d);
    expect(r?.outcome).toBe(outcome);
    if (r) expect(r).toMatchObject({ error_code: "MASK_LINEAGE_UNKNOWN", mask: [] });
  });
});
