import { describe, expect, it } from "vitest";
import { aboutStatement, quotesRow, screenNoticeFields, screenNotificationPayload, WITHHELD, WITHHELD_HINT, WITHHELD_MESSAGE, WITHHELD_ROW, WITHHELD_ROW_HINT } from "./side-channels.js";

const ssn = "607-59-5353";

describe("screenNoticeFields with a protected read", () => {
  // Messages the red-team pass got back whole or in part from statements reading masked columns.
  it.each([
    ["a number made of a masked value", { S: "ERROR", V: "ERROR", C: "2202E", M: "index 607595353 out of valid range, 0..0" }],
    ["a quote inside the value breaks quote matching", { S: "ERROR", V: "ERROR", C: "22P02", M: 'invalid input syntax for type integer: "a"mira.holm2 at example.net"', P: "8" }],
    ["a bit string of a value's bytes", { S: "ERROR", V: "ERROR", C: "22003", M: "integer out of range", D: "value 6d6972" }],
    ["a date built from a value", { S: "ERROR", V: "ERROR", C: "22008", M: "date field value out of range: 607-59-53" }],
    ["a character code", { S: "ERROR", V: "ERROR", C: "54000", M: "requested character too large for encoding: 607595353" }],
    ["a key in a detail", { S: "ERROR", V: "ERROR", C: "23505", M: "duplicate key value violates unique constraint", D: `Key (ssn)=(${ssn}) already exists.`, n: "customers_ssn_key", t: "customers" }],
    ["a RAISE with context and internal query", { S: "NOTICE", V: "NOTICE", C: "00000", M: `got ${ssn}`, W: `PL/pgSQL function f(text) line 3 at RAISE: ${ssn}`, q: `select '${ssn}'`, p: "9", H: ssn }],
  ] as const)("%s: no server text survives", (_name, fields) => {
    const out = screenNoticeFields({ ...fields }, "all")!;
    expect(out).toBeDefined();
    const text = JSON.stringify(out);
    for (const piece of ["607595353", "6d6972", "607-59-53", "mira.holm2", ssn]) expect(text).not.toContain(piece);
    expect(out["M"]).toBe(WITHHELD_MESSAGE);
    expect(out["H"]).toBe(WITHHELD_HINT);
    expect(out["p"]).toBeUndefined();
    for (const code of ["D", "W", "q"] as const) if (code in fields) expect(out[code]).toBe(WITHHELD);
    // SQLSTATE, severity and naming fields are the server's.
    for (const code of ["S", "V", "C", "P", "n", "t"] as const) expect(out[code]).toBe((fields as Record<string, string>)[code]);
  });
});

describe("screenNoticeFields for a row regate cannot vouch for", () => {
  it("keeps the message and names, withholds the row the detail quotes", () => {
    const fields = { S: "ERROR", C: "23502", M: 'null value in column "created_at" of relation "customers" violates not-null constraint', D: "Failing row contains (7, Lars, 4111111111111112, null).", t: "customers", c: "created_at" };
    expect(quotesRow(fields)).toBe(true);
    expect(quotesRow({ C: "25006" })).toBe(false);
    const out = screenNoticeFields({ ...fields }, "detail")!;
    expect(out).toEqual({ ...fields, D: WITHHELD_ROW, H: WITHHELD_ROW_HINT });
  });
});

describe("aboutStatement", () => {
  it.each([
    ["25006", true],
    ["40P01", true],
    ["42501", true],
    ["57014", true],
    ["22P02", false],
    ["23505", false],
    ["P0001", false],
    ["00000", false],
    [undefined, false],
  ] as const)("%s: %s", (code, expected) => {
    expect(aboutStatement(code === undefined ? {} : { C: code })).toBe(expected);
  });
});

describe("screenNoticeFields without a protected read", () => {
  it("keeps the server's text, masking values that look like personal data", () => {
    const fields = { S: "ERROR", V: "ERROR", C: "22P02", M: 'invalid input syntax for type integer: "alice@example.com"', P: "8" };
    const out = screenNoticeFields({ ...fields }, "none");
    expect(out?.["M"]).toMatch(/^invalid input syntax for type integer: "/);
    expect(out?.["M"]).not.toContain("alice@example.com");
    expect(out?.["C"]).toBe("22P02");
  });

  it("changes nothing when there is nothing to screen", () => {
    expect(screenNoticeFields({ S: "ERROR", C: "2202E", M: "index 607595353 out of valid range, 0..0" }, "none")).toBeUndefined();
    expect(screenNoticeFields({ S: "ERROR", C: "42P01", M: "relation x does not exist", t: "x", n: "c", p: "3", q: "select 1" }, "none")).toBeUndefined();
  });
});

describe("screenNotificationPayload", () => {
  it("masks personal data in payloads", () => {
    expect(screenNotificationPayload("order 7 paid by alice@example.com")).not.toContain("alice@example.com");
    expect(screenNotificationPayload("order 7 shipped")).toBe("order 7 shipped");
  });
});
