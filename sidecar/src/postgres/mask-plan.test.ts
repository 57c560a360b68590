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
    expect(strategies("partial", [{ derived: false }], [field("c0", 1, 6)])).toEqual(["partial"]);
    expect(strategies("partial", [{ derived: true }], [field("c0", 1, 6)])).toEqual(["redact"]);
  });
});

describe("lineage masks only where the analysis' outputs line up with the server's columns", () => {
  const SSN = { schema: "public", table: "customers", column: "ssn" };
  const out = (name: string, lineage: (typeof SSN)[]) => ({ name, lineage, derived: true, unknown: false });
  const rules: MaskRule[] = [{ column: "public.customers.ssn", strategy: "redact" }, { column: "public.customers.card_number", strategy: "partial" }];
  const resolve = (oid: number, attnum: number) => (oid === 1 && attnum === 6 ? "public.customers.card_number" : oid === 2 ? "public.orders.id" : undefined);
  const plan = (names: string[], fields: FieldDescription[]) =>
    fields.map((_, i) => {
      const facts = { outputs: names.map((n) => out(n, n === "s" ? [SSN] : [])) } as unknown as StatementFacts;
      const m = buildMaskPlan(rules, facts, fields, resolve)?.columns.get(i);
      return m?.kind === "rule" ? m.strategy : undefined;
    });

  it("in step: the SSN-derived column is redacted, the others pass", () => {
    expect(plan(["s", "id", "created_at"], [field("s"), field("id", 2, 1), field("created_at")])).toEqual(["redact", undefined, undefined]);
  });

  // MERGE ... RETURNING * as the analysis once listed it: target first, while the server sends the source first.
  it("out of step: every column is redacted, a plain table column and a masked one's own value included", () => {
    expect(plan(["id", "created_at", "s"], [field("s"), field("id", 2, 1), field("created_at")])).toEqual(["redact", "redact", "redact"]);
    expect(plan(["x", "s"], [field("card_number", 1, 6), field("s")])).toEqual(["redact", "redact"]);
  });

  it("a different number of columns keeps masking by the server's table columns, as before", () => {
    expect(plan(["s"], [field("card_number", 1, 6), field("id", 2, 1), field("other")])).toEqual(["partial", undefined, "redact"]);
  });
});
