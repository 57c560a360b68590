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
  it("event data: JSON when it parses, text otherwise (detector rules only)", () => {
    const m = ResponseMasker.from([{ detector: "email", strategy: "partial" }])!;
    expect(m.maskEventData('{"email":"a@x.com","note":"b@y.org"}')).toBe('{"email":"***@x.com","note":"***@y.org"}');
    expect(m.maskEventData("[DONE]")).toBe("[DONE]");
    expect(m.maskEventData("mail b@y.org")).toBe("mail ***@y.org");
    expect(m.maskEventData('{"email":"b@y.org"')).toBe('{"email":"***@y.org"');
  });

  describe("event data under field rules is a JSON document or refused", () => {
    const m = ResponseMasker.from([{ field: "ssn", strategy: "redact" }, { detector: "email", strategy: "partial" }])!;

    it.each([
      ["an object", '{"ssn":"123-45-6789","note":"b@y.org"}', `{"ssn":"${REDACTED}","note":"***@y.org"}`],
      ["a scalar", "42", "42"],
      ["a string", '"b@y.org"', '"***@y.org"'],
      ["the [DONE] sentinel", "[DONE]", "[DONE]"],
      ["a blank keep-alive", "", ""],
    ])("masks %s", (_name, data, expected) => {
      expect(m.maskEventData(data)).toBe(expected);
    });

    it.each([
      ["key=value text", "ssn=123-45-6789"],
      ["broken JSON", '{"ssn":"123-45-6789"'],
      ["the first half of a split document", '{"ssn":'],
      ["the second half of a split document", '"123-45-6789"}'],
      ["plain text", "hello"],
      ["two documents", '{"a":1}\n{"ssn":"123-45-6789"}'],
    ])("refuses %s", (_name, data) => {
      expect(() => m.maskEventData(data)).toThrow(/not a JSON document/);
    });
  });
});

describe("ResponseMasker JSON embedded in strings", () => {
  const SSN = "123-45-6789";
  const nest = (v: unknown, n: number): unknown => (n === 0 ? v : { d: JSON.stringify(nest(v, n - 1)) });
  const field = ResponseMasker.from([{ field: "ssn", strategy: "redact" }])!;
  const detector = ResponseMasker.from([{ detector: "ssn", strategy: "redact" }])!;

  it.each([1, 2, 3])("masks a document embedded %i levels deep", (n) => {
    for (const m of [field, detector]) {
      const out = m.maskJsonText(JSON.stringify(nest({ ssn: SSN }, n)));
      expect(out).not.toContain(SSN);
      expect(out).toContain(REDACTED);
    }
  });

  it.each([4, 5, 8])("refuses a document embedded %i levels deep", (n) => {
    for (const m of [field, detector]) {
      expect(() => m.maskJsonText(JSON.stringify(nest({ ssn: SSN }, n)))).toThrow(/embedded in strings deeper/);
    }
  });

  it("refuses past the limit even when the innermost value is not masked (it was not inspected)", () => {
    expect(() => field.maskJsonText(JSON.stringify(nest({ other: 1 }, 4)))).toThrow(/embedded in strings deeper/);
  });

  it("follows a JSON string encoded twice", () => {
    const doc = { d: JSON.stringify(JSON.stringify({ ssn: SSN })) };
    const out = field.maskJsonText(JSON.stringify(doc));
    expect(out).not.toContain(SSN);
    expect(JSON.parse(JSON.parse((JSON.parse(out) as { d: string }).d) as string)).toEqual({ ssn: REDACTED });
  });

  it("leaves strings that only look like JSON as text, and plain quoted text as it was", () => {
    expect(field.maskJsonText('{"a":"[DRAFT] notes","b":"\\"quoted\\""}')).toBe('{"a":"[DRAFT] notes","b":"\\"quoted\\""}');
  });

  it("the streaming masker refuses past the same limit", async () => {
    const { JsonMaskStream } = await import("./json-stream.js");
    const { Readable } = await import("node:stream");
    const { text } = await import("node:stream/consumers");
    const run = (doc: string) => text(Readable.from([Buffer.from(doc)]).pipe(new JsonMaskStream(field, { holdChars: 1 << 16, maxTokenChars: 1 << 20 })));
    expect(await run(JSON.stringify(nest({ ssn: SSN }, 3)))).not.toContain(SSN);
    await expect(run(JSON.stringify(nest({ ssn: SSN }, 4)))).rejects.toThrow(/embedded in strings deeper/);
  });
});

describe("ResponseMasker for response headers", () => {
  it("names every field rule, a pointer by its last token (not a wildcard or an index)", () => {
    const m = ResponseMasker.from([
      { field: "Email", strategy: "redact" },
      { field: "/customer/ssn", strategy: "hash" },
      { field: "/items/*", strategy: "redact" },
      { field: "/items/0", strategy: "redact" },
      { detector: "card", strategy: "redact" },
    ])!;
    expect(m.namedRules.map((r) => r.name)).toEqual(["Email", "ssn"]);
  });

  it("detectedSpans gives each hit with its strategy's replacement", () => {
    const m = ResponseMasker.from([{ detector: "email", strategy: "partial" }, { detector: "ssn", strategy: "null" }])!;
    expect(m.detectedSpans("a b@y.org 123-45-6789", m.detect!)).toEqual([
      { start: 2, end: 9, replacement: "***@y.org" },
      { start: 10, end: 21, replacement: null },
    ]);
  });
});

describe("ResponseMasker rewrites JSON text in place", () => {
  const m = (rules: MaskRule[], opts: { caseSensitive?: boolean } = {}) => ResponseMasker.from(rules, KEY, opts)!;

  it.each([
    ["Email", '{"Email":"a@x.com"}', `{"Email":"${REDACTED}"}`],
    ["EMAIL", '{"EMAIL":"a@x.com"}', `{"EMAIL":"${REDACTED}"}`],
    ["an escaped key", '{"em\\u0061il":"a@x.com"}', `{"em\\u0061il":"${REDACTED}"}`],
  ])("field names match whatever their case or escaping: %s", (_name, text, expected) => {
    expect(m([{ field: "email", strategy: "redact" }]).maskJsonText(text)).toBe(expected);
  });

  it("pointers match case-insensitively too", () => {
    expect(m([{ field: "/Data/*/SSN", strategy: "redact" }]).maskJsonText('{"data":[{"ssn":"1"}]}')).toBe(`{"data":[{"ssn":"${REDACTED}"}]}`);
  });

  it("caseSensitive: exact names only", () => {
    const text = '{"Email":"a@x.com","email":"b@y.org"}';
    expect(m([{ field: "email", strategy: "redact" }], { caseSensitive: true }).maskJsonText(text)).toBe(`{"Email":"a@x.com","email":"${REDACTED}"}`);
  });

  it("every occurrence of a duplicated key is masked (JSON.parse would keep only the last)", () => {
    const text = '{"email":"a@x.com","email":"b@y.org","n":{"email":"c@z.io","email":null}}';
    expect(m([{ field: "email", strategy: "redact" }]).maskJsonText(text)).toBe(`{"email":"${REDACTED}","email":"${REDACTED}","n":{"email":"${REDACTED}","email":null}}`);
  });

  it("numbers keep their exact text: big integers, exponents, trailing zeros, -0", () => {
    const text = '{"id": 12345678901234567890123, "big": 9007199254740993, "f": 1.50, "e": 1E+400, "z": -0, "email": "a@x.com"}';
    expect(m([{ field: "email", strategy: "redact" }]).maskJsonText(text)).toBe(
      `{"id": 12345678901234567890123, "big": 9007199254740993, "f": 1.50, "e": 1E+400, "z": -0, "email": "${REDACTED}"}`,
    );
  });

  it("a masked number is judged by its text as sent (beyond 2^53)", () => {
    expect(m([{ field: "card_number", strategy: "partial" }]).maskJsonText('{"card_number":4111111111111111234}')).toBe('{"card_number":"***************1234"}');
  });

  it("whitespace and key order are untouched around a masked value", () => {
    const text = '{\n  "b": 1,\n  "email" :  "a@x.com" ,\n  "a": [ 1, 2 ]\n}';
    expect(m([{ field: "email", strategy: "redact" }]).maskJsonText(text)).toBe(`{\n  "b": 1,\n  "email" :  "${REDACTED}" ,\n  "a": [ 1, 2 ]\n}`);
  });

  it("keys named __proto__ or constructor are masked like any other", () => {
    const text = '{"__proto__":{"email":"a@x.com"},"constructor":"b@y.org"}';
    expect(m([{ field: "email", strategy: "redact" }, { field: "constructor", strategy: "redact" }]).maskJsonText(text)).toBe(
      `{"__proto__":{"email":"${REDACTED}"},"constructor":"${REDACTED}"}`,
    );
  });

  it("a masked subtree deeper than the limit is refused, not passed", () => {
    const deep = `{"address":${"[".repeat(600)}"x"${"]".repeat(600)}}`;
    expect(() => m([{ field: "address", strategy: "redact" }]).maskJsonText(deep)).toThrow(/nested too deeply/);
  });

  it("strings with escapes are decoded before detectors run and re-encoded after", () => {
    const text = '{"note":"mail: b\\u0040y.org \\"quoted\\""}';
    const out = m([{ detector: "email", strategy: "redact" }]).maskJsonText(text);
    expect(JSON.parse(out)).toEqual({ note: `mail: ${REDACTED} "quoted"` });
  });
});

// Red-team pass 2 (build/redteam2/q2.ts, F7/F8): values and names spelled so that a reader sees PII but a
// detector matching ASCII as sent, or a rule comparing names byte for byte, did not.
describe("ResponseMasker: encoded and look-alike spellings", () => {
  const SSN = "123-45-6789";
  const detectors = ResponseMasker.from([{ detector: "ssn", strategy: "redact" }, { detector: "email", strategy: "redact" }], KEY)!;
  const fields = ResponseMasker.from([{ field: "ssn", strategy: "redact" }, { field: "/data/*/email", strategy: "redact" }], KEY)!;

  it.each([
    ["a percent-encoded email in a URL", { next: "https://x/?u=alice%40example.com&page=2" }, { next: `https://x/?u=${REDACTED}&page=2` }],
    ["an email encoded twice", { next: "/c?q=alice%2540example.com" }, { next: `/c?q=${REDACTED}` }],
    ["an HTML-escaped email", { html: "<a>alice&#64;example.com</a>" }, { html: `<a>${REDACTED}</a>` }],
    ["a named-reference email", { html: "alice&commat;example&period;com" }, { html: REDACTED }],
    ["an SSN in percent-encoded JSON", { form: "data=%7B%22ssn%22%3A%22123-45-6789%22%7D" }, { form: `data=%7B%22ssn%22%3A%22${REDACTED}%22%7D` }],
    ["fullwidth SSN digits", { note: "１２３-４５-６７８９" }, { note: REDACTED }],
    ["an SSN with a zero-width space inside", { note: "ssn 123-45-67\u200b89." }, { note: `ssn ${REDACTED}.` }],
    ["a fullwidth at sign", { note: "write alice＠example.com" }, { note: `write ${REDACTED}` }],
    ["an encoded email as a key", { "alice%40example.com": 1 }, { [REDACTED]: 1 }],
  ])("detectors find %s", (_name, doc, expected) => {
    expect(mask([{ detector: "ssn", strategy: "redact" }, { detector: "email", strategy: "redact" }], doc)).toEqual(expected);
  });

  it.each([
    ["an HTML page", "<td>alice&#64;example.com</td>", `<td>${REDACTED}</td>`],
    ["a form body", "data=%7B%22ssn%22%3A%22123-45-6789%22%7D", `data=%7B%22ssn%22%3A%22${REDACTED}%22%7D`],
    ["a hex reference", "alice&#x40;example.com", REDACTED],
    ["an email encoded five times", `q=${encodeURIComponent(encodeURIComponent(encodeURIComponent(encodeURIComponent(encodeURIComponent("alice@example.com")))))}`, REDACTED],
  ])("plain text: detectors find %s", (_name, text, expected) => {
    expect(detectors.maskPlainText(text)).toBe(expected);
  });

  it("a hit found both as sent and decoded is masked once, with its strategy", () => {
    const m = ResponseMasker.from([{ detector: "email", strategy: "partial" }], KEY)!;
    expect(m.maskPlainText("a@x.com%20and%20b%40y.org")).toBe("***@x.com%20and%20***@y.org");
  });

  it("a null strategy nulls a value holding an encoded hit", () => {
    const m = ResponseMasker.from([{ detector: "ssn", strategy: "null" }], KEY)!;
    expect(m.maskJsonText('{"a":"１２３-４５-６７８９","b":"x"}')).toBe('{"a":null,"b":"x"}');
  });

  it.each([
    ["percent escapes with nothing behind them", '{"url":"https://x/a%20b?c=%2F&d=1","n":1.50}'],
    ["HTML with entities", '{"html":"&lt;b&gt;Tom &amp; Jerry&lt;/b&gt; &#169; 2024"}'],
    ["non-ASCII text", '{"name":"Zoë Ｔａｎａｋａ 日本語 ①","emoji":"👍🏽"}'],
    ["invisible characters", '{"name":"a\\u200bb\\u0000"}'],
    ["numbers and dates", '{"id":"１２３","when":"2024-01-02","ref":"123-456-7890"}'],
  ])("leaves %s byte for byte", (_name, text) => {
    expect(detectors.maskJsonText(text)).toBe(text);
  });

  it.each([
    ["fullwidth", '{"ｓｓｎ":"123-45-6789"}'],
    ["fullwidth capitals", '{"ＳＳＮ":"123-45-6789"}'],
    ["a zero-width space", '{"s\\u200bsn":"123-45-6789"}'],
    ["a NUL", '{"ssn\\u0000":"123-45-6789"}'],
    ["a BOM", '{"\\ufeffssn":"123-45-6789"}'],
    ["a soft hyphen", '{"s\u00adsn":"123-45-6789"}'],
    ["a trailing space", '{"ssn ":"123-45-6789"}'],
  ])("field names: a key with %s is the field", (_name, text) => {
    expect(Object.values(JSON.parse(fields.maskJsonText(text)) as object)).toEqual([REDACTED]);
  });

  it("field names: pointer tokens match look-alike keys too", () => {
    expect(JSON.parse(fields.maskJsonText('{"ｄａｔａ":[{"e\\u200bmail":"a@x.com","name":"A"}]}'))).toEqual({ ｄａｔａ: [{ "e\u200bmail": REDACTED, name: "A" }] });
  });

  it("field names: a case-sensitive masker folds look-alikes but not case", () => {
    const m = ResponseMasker.from([{ field: "ssn", strategy: "redact" }], KEY, { caseSensitive: true })!;
    expect(m.maskJsonText(`{"ｓｓｎ":"${SSN}","SSN":"${SSN}"}`)).toBe(`{"ｓｓｎ":"${REDACTED}","SSN":"${SSN}"}`);
    expect(m.foldKey("ｓ\u200bｓｎ")).toBe("ssn");
  });
});
