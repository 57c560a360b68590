import { describe, expect, it } from "vitest";
import type { MaskRule, MaskStrategy } from "../decision/index.js";
import { buildMaskPlan } from "./mask-plan.js";
import type { FieldDescription } from "./protocol/index.js";
import type { StatementFacts } from "./sql/types.js";

const CARD = { schema: "public", table: "customers", column: "card_number" };
const field = (name: string, tableOid = 0, attnum = 0): FieldDescription => ({ name, tableOid, attnum, typeOid: 25, typlen: -1, typmod: -1, format: 0 });
const facts = (outputs: { derived: boolean }[]) =>
  ({ outputs: outputs.map((o, i) => ({ name: `c${i}`, lineage: [CARD], derived: o.derived, unknown: false })) }) as unknown as StatementFacts;

function strategies(strategy: MaskStrategy, outputs: { derived: boolean }[], fields = outputs.map((_, i) => field(`c${i}`))): (MaskStrategy | undefined)[] {
  const rules: MaskRule[] = [{ column: "public.customers.card_number", strategy }];
  const plan = buildMaskPlan(rules, facts(outputs), fields, (oid, attnum) => (oid === 1 && attnum === 6 ? "public.customers.card_number" : undefined));
  return fields.map((_, i) => {
    const m = plan?.columns.get(i);
    return m?.kind === "rule" ? m.strategy : undefined;
  });
}

describe("partial and hash hold for a column's own value only", () => {
  it.each(["partial", "hash"] as const)("%s: a plain reference keeps it, an expression of the column is redacted", (s) => {
    expect(strategies(s, [{ derived: false }, { derived: true }])).toEqual([s, "redact"]);
  });

  it.each(["redact", "null"] as const)("%s is kept as it is", (s) => {
    expect(strategies(s, [{ derived: false }, { derived: true }])).toEqual([s, s]);
  });

  it("the server's own column (table OID and attnum) keeps partial; the lineage of an expression still redacts", () => {
    expect(strategies("partial", [{ derived: false }], [field("card_number", 1, 6)])).toEqual(["partial"]);
    expect(strategies("partial", [{ derived: true }], [field("card_number", 1, 6)])).toEqual(["redact"]);
  });
});
