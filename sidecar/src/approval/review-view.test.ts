import { describe, expect, it } from "vitest";
import type { Decision } from "../decision/index.js";
import { reviewView, WITHHELD } from "./review-view.js";

const decision = (mask: Decision["mask"]): Decision => ({ decision_id: "d", outcome: "approve", reasons: ["r"], mask, dry_run: false, revision: "r" });

describe("what a reviewer is shown", () => {
  it("masks personal data and secrets in the text and in parameter values; keeps the rest readable", () => {
    const v = reviewView(decision([]), "UPDATE payments SET card_number = '4111 1111 1111 1111' WHERE id = 4", [
      { value: "5500005555555559", format: "text", type_oid: 0 },
      { value: "12", format: "text", type_oid: 0 },
      { value: null, format: "text", type_oid: 0 },
    ]);
    expect(v.sql).not.toContain("4111 1111 1111 1111");
    expect(v.sql).toMatch(/^UPDATE payments SET card_number = '.*1111' WHERE id = 4$/);
    expect(v.parameters).toEqual([
      { value: expect.stringMatching(/^\*+5559$/), format: "text", type_oid: 0 },
      { value: "12", format: "text", type_oid: 0 },
      { value: null, format: "text", type_oid: 0 },
    ]);
  });

  it("withholds every parameter value when the decision masks columns", () => {
    const v = reviewView(decision([{ column: "public.customers.email", strategy: "partial" }]), "UPDATE customers SET full_name = $1 WHERE id = $2", [
      { value: "Ada Lovelace", format: "text", type_oid: 0 },
      { value: "1", format: "text", type_oid: 0 },
    ]);
    expect(v.parameters).toEqual([
      { value: WITHHELD, format: "text", type_oid: 0 },
      { value: WITHHELD, format: "text", type_oid: 0 },
    ]);
  });

  it("HTTP: the body shown is masked like a parameter", () => {
    const v = reviewView(decision([]), "POST /refunds?email=ada@example.org", ['{"order_id":1,"email":"ada@example.org"}']);
    expect(JSON.stringify(v)).not.toContain("ada@example.org");
    expect(v.parameters![0]).toContain('"order_id":1');
  });
});
