import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { hashValue, REDACTED } from "../mask/index.js";
import { ResponseMasker } from "./masker.js";

const KEY = Buffer.from("k");
const mask = (rules: MaskRule[], doc: unknown): unknown => JSON.parse(ResponseMasker.from(rules, KEY)!.maskJsonText(JSON.stringify(doc)));

describe("ResponseMasker JSON", () => {
  it.each([
    [
      "field name at any depth",
      [{ field: "email", strategy: "partial" }],
      { email: "a@x.com", data: [{ email: "b@y.org", name: "B" }], nested: { deep: { email: "c@z.io" } } },
      { email: "***@x.com", data: [{ email: "***@y.org", name: "B" }], nested: { deep: { email: "***@z.io" } } },
    ],
    [
      "json pointer, exact",
      [{ field: "/data/0/email", strategy: "redact" }],
      { email: "a@x.com", data: [{ email: "b@y.org" }, { email: "c@z.io" }] },
      { email: "a@x.com", data: [{ email: REDACTED }, { email: "c@z.io" }] },
    ],
    [
      "json pointer with wildcard",
      [{ field: "/data/*/ssn", strategy: "null" }],
      { data: [{ ssn: "123-45-6789" }, { ssn: "987-65-4321" }] },
      { data: [{ ssn: null }, { ssn: null }] },
    ],
    ["pointer escapes", [{ field: "/a~1b/c~0d", strategy: "redact" }], { "a/b": { "c~d": "v", x: "w" } }, { "a/b": { "c~d": REDACTED, x: "w" } }],
    [
      "a masked object is masked leaf by leaf, nulls kept",
      [{ field: "address", strategy: "redact" }],
      { address: { street: "1 Main", zip: 94107, geo: [1.5, 2.5], note: null } },
      { address: { street: REDACTED, zip: REDACTED, geo: [REDACTED, REDACTED], note: null } },
    ],
    [
      "numbers: partial keeps the last 4 digits of a card",
      [{ field: "card_number", strategy: "partial" }],
      { card_number: 4111111111111111 },
      { card_number: "************1111" },
    ],
    [
      "detectors over every string and number, not other values",
      [{ detector: "card", strategy: "partial" }, { detector: "email", strategy: "redact" }],
      { note: "paid by 4111 1111 1111 1111 (bob@x.com)", order: 4111111111111112, raw: 5500000000000004, ok: true },
      { note: `paid by **** **** **** 1111 (${REDACTED})`, order: 4111111111111112, raw: "************0004", ok: true },
    ],
    [
      "detectors over object keys",
      [{ detector: "email", strategy: "hash" }],
      { byEmail: { "a@x.com": 1, plain: 2 } },
      { byEmail: { [hashValue("a@x.com", KEY)]: 1, plain: 2 } },
    ],
    [
      "field plus detector masks only what is detected inside the field",
      [{ field: "notes", detector: "phone", strategy: "redact" }],
      { notes: "call (415) 555-2671 today", other: "(415) 555-2671" },
      { notes: `call ${REDACTED} today`, other: "(415) 555-2671" },
    ],
    [
      "the strongest strategy wins",
      [{ field: "email", strategy: "partial" }, { field: "email", strategy: "null" }, { field: "email", strategy: "redact" }],
      { email: "a@x.com" },
      { email: null },
    ],
    [
      "null strategy on a detected substring nulls the whole string",
      [{ detector: "ssn", strategy: "null" }],
      { note: "ssn 123-45-6789", ok: "fine" },
      { note: null, ok: "fine" },
    ],
    ["column-only rules do not apply", [{ column: "public.customers.email", strategy: "redact" }, { field: "x", strategy: "redact" }], { email: "a@x.com", x: "1" }, { email: "a@x.com", x: REDACTED }],
  ] as [string, MaskRule[], unknown, unknown][])("%s", (_name, rules, doc, expected) => {
    expect(mask(rules, doc)).toEqual(expected);
  });

  it("masks JSON embedded in strings (MCP tool results), keeping its indentation", () => {
    const inner = JSON.stringify({ name: "Alice", email: "alice@example.com", card: "4111111111111111" }, null, 2);
    const doc = { result: { content: [{ type: "text", text: inner }], structuredContent: { email: "alice@example.com" } } };
    const out = mask([{ field: "email", strategy: "partial" }, { detector: "card", strategy: "partial" }], doc) as {
      result: { content: { text: string }[]; structuredContent: { email: string } };
    };
    expect(JSON.parse(out.result.content[0]!.text)).toEqual({ name: "Alice", email: "***@example.com", card: "************1111" });
    expect(out.result.content[0]!.text).toContain('\n  "name"');
    expect(out.result.structuredContent.email).toBe("***@example.com");
  });

  it("keeps an unchanged document byte for byte", () => {
    const text = '{ "a" : 1,\n  "b": "x" }';
    expect(ResponseMasker.from([{ field: "email", strategy: "redact" }])!.maskJsonText(text)).toBe(text);
  });

  it("returns undefined when no rule applies to HTTP", () => {
    expect(ResponseMasker.from([])).toBeUndefined();
    expect(ResponseMasker.from([{ column: "s.t.c", strategy: "redact" }])).toBeUndefined();
  });

  it("an unknown detector masks with every detector", () => {
    const out = mask([{ detector: "bogus" as never, strategy: "redact" }], { a: "x 123-45-6789 y" });
    expect(out).toEqual({ a: `x ${REDACTED} y` });
  });

  it("refuses nesting deeper than it will walk", () => {
    const deep = "[".repeat(2000) + "]".repeat(2000);
    expect(() => ResponseMasker.from([{ detector: "email", strategy: "redact" }])!.maskJsonText(deep)).toThrow(/nested too deeply/);
  });

  it("throws SyntaxError for non-JSON", () => {
    expect(() => ResponseMasker.from([{ field: "a", strategy: "redact" }])!.maskJsonText("nope")).toThrow(SyntaxError);
  });
});

describe("ResponseMasker text", () => {
  it("event data: JSON when it parses, text otherwise", () => {
    const m = ResponseMasker.from([{ field: "email", strategy: "redact" }, { detector: "email", strategy: "partial" }])!;
    expect(m.maskEventData('{"email":"a@x.com","note":"b@y.org"}')).toBe(`{"email":"${REDACTED}","note":"***@y.org"}`);
    expect(m.maskEventData("[DONE]")).toBe("[DONE]");
    expect(m.maskEventData("mail b@y.org")).toBe("mail ***@y.org");
  });
});
