import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { REDACTED } from "../mask/index.js";
import { JsonMaskStream } from "./json-stream.js";
import { ResponseMasker } from "./masker.js";

const KEY = Buffer.from("k");

/** Feeds `chunks` through a JsonMaskStream; resolves with the output text, or rejects with the stream's error. */
function run(masker: ResponseMasker, chunks: Buffer[], holdChars = 1 << 16, maxTokenChars = 1 << 20): Promise<{ text: string; pushes: number; whole: boolean }> {
  return new Promise((resolve, reject) => {
    const s = new JsonMaskStream(masker, { holdChars, maxTokenChars });
    const out: Buffer[] = [];
    s.on("data", (b: Buffer) => out.push(b));
    s.on("error", reject);
    s.on("end", () => resolve({ text: Buffer.concat(out).toString("utf8"), pushes: out.length, whole: s.wholeBody }));
    for (const c of chunks) s.write(c);
    s.end();
  });
}

/** Every split of `text` into two chunks, plus one byte per chunk. */
function splits(text: string): Buffer[][] {
  const b = Buffer.from(text, "utf8");
  const out: Buffer[][] = [[b], [...b].map((x) => Buffer.from([x]))];
  for (let i = 1; i < b.length; i++) out.push([b.subarray(0, i), b.subarray(i)]);
  return out;
}

const RULES: MaskRule[] = [
  { field: "email", strategy: "partial" },
  { field: "/data/*/ssn", strategy: "null" },
  { field: "address", strategy: "redact" },
  { field: "notes", detector: "phone", strategy: "redact" },
  { field: "card_number", strategy: "partial" },
];
const DETECT: MaskRule[] = [
  { detector: "card", strategy: "partial" },
  { detector: "email", strategy: "redact" },
];

// Documents as upstreams write them: layout, escapes, big numbers, duplicate keys, mixed case, multibyte text.
const DOCS = [
  '{"email":"a@x.com","data":[{"ssn":"123-45-6789","email":"b@y.org"},{"SSN":"987-65-4321"}]}',
  '{ "Email" : "A@X.com" ,\n  "EMAIL":"c@z.io", "email": "d@w.net" }',
  '{"id":12345678901234567890,"amount":1.10,"exp":1e400,"neg":-0.0,"card_number":4111111111111111}',
  '{"address":{"street":"1 Main","zip":94107,"geo":[1.5,2.5],"note":null,"ok":true},"after":"x"}',
  '{"notes":"call (415) 555-2671 today","other":"(415) 555-2671"}',
  '{"esc\\"aped":"\\u00e9\\n\\"q\\"","email":"\\u0061@x.com","naïve":"😀 emoji ünïcode"}',
  '[{"email":"a@x.com"},[],{},[[[{"email":"deep@x.com"}]]],"s",1,true,false,null]',
  '  "just a string with a@x.com"  ',
  "12345678901234567890",
  '{"result":{"content":[{"type":"text","text":"{\\"email\\": \\"alice@example.com\\", \\"n\\": 1}"}]}}',
];

describe("JsonMaskStream", () => {
  it.each(DOCS)("masks %s exactly as maskJsonText does, however it is split", async (doc) => {
    for (const rules of [RULES, DETECT, [...RULES, ...DETECT]]) {
      const masker = ResponseMasker.from(rules, KEY)!;
      const expected = masker.maskJsonText(doc);
      for (const chunks of splits(doc)) expect((await run(masker, chunks)).text).toBe(expected);
    }
  });

  it("keeps integers beyond 2^53 and every duplicate key's value masked", async () => {
    const masker = ResponseMasker.from([{ field: "email", strategy: "redact" }], KEY)!;
    const { text } = await run(masker, [Buffer.from('{"id":9007199254740993,"email":"a@x.com","EMAIL":"b@x.com","email":"c@x.com"}')]);
    const r = JSON.stringify(REDACTED);
    expect(text).toBe(`{"id":9007199254740993,"email":${r},"EMAIL":${r},"email":${r}}`);
  });

  it.each([
    ['{"a":1,}', "trailing comma"],
    ['{"a" 1}', "missing colon"],
    ["[1 2]", "missing comma"],
    ['{"a":01}', "leading zero"],
    ['{"a":tru}', "bad keyword"],
    ['{"a":"x\u0001"}', "control character"],
    ['{"a":"\\x"}', "bad escape"],
    ['{"a":1}{"b":2}', "two documents"],
    ['{"a":[1,2}', "mismatched close"],
    ['{"a":1', "unterminated"],
    ['"abc', "unterminated string"],
    ["   ", "whitespace only"],
    ["{'a':1}", "single quotes"],
  ])("refuses %s (%s), as JSON.parse does", async (doc) => {
    expect(() => JSON.parse(doc)).toThrow(SyntaxError);
    const masker = ResponseMasker.from(RULES, KEY)!;
    for (const chunks of splits(doc)) await expect(run(masker, chunks)).rejects.toThrow(SyntaxError);
  });

  it("refuses a body that is not UTF-8", async () => {
    const masker = ResponseMasker.from(RULES, KEY)!;
    await expect(run(masker, [Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])])).rejects.toThrow(SyntaxError);
  });

  it("refuses nesting deeper than regate inspects, and passes the deepest it inspects", async () => {
    const masker = ResponseMasker.from(RULES, KEY)!;
    const deep = (n: number) => "[".repeat(n) + '"a@x.com"' + "]".repeat(n);
    await expect(run(masker, [Buffer.from(deep(513))])).rejects.toThrow(/nested too deeply/);
    expect(() => masker.maskJsonText(deep(513))).toThrow(/nested too deeply/);
    expect((await run(masker, [Buffer.from(deep(512))])).text).toBe(masker.maskJsonText(deep(512)));
  });

  it("refuses a single value larger than its cap", async () => {
    const masker = ResponseMasker.from(RULES, KEY)!;
    await expect(run(masker, [Buffer.from(`{"email":"${"a".repeat(100)}"}`)], 1 << 16, 50)).rejects.toThrow(/larger than regate masks/);
  });

  it("holds a small document back and sends it whole; streams a large one as it is masked", async () => {
    const masker = ResponseMasker.from(RULES, KEY)!;
    const small = await run(masker, splits('{"email":"a@x.com","n":1}')[1]!);
    expect(small).toMatchObject({ pushes: 1, whole: true });
    const rows = Array.from({ length: 2000 }, (_, i) => `{"id":${i},"email":"u${i}@x.com","plan":"pro"}`);
    const doc = `[${rows.join(",")}]`;
    const chunks = Array.from({ length: Math.ceil(doc.length / 1000) }, (_, i) => Buffer.from(doc.slice(i * 1000, (i + 1) * 1000)));
    const large = await run(masker, chunks, 4096);
    expect(large.text).toBe(masker.maskJsonText(doc));
    expect(large.whole).toBe(false);
    expect(large.pushes).toBeGreaterThan(10);
  });

  it("agrees with maskJsonText on generated documents cut into random chunks", async () => {
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
    const keys = ["email", "Email", "ssn", "data", "address", "notes", "id", "card_number", "x"];
    const scalars = ['"a@x.com"', '"4111 1111 1111 1111"', '"(415) 555-2671"', "4111111111111111", "123456789012345678901", "-1.5e3", "true", "null", '"\\u00e9\\"x"', '"ü😀"'];
    const gen = (depth: number): string => {
      const k = depth > 4 ? 2 : rnd(4);
      const ws = () => [" ", "", "\n  ", ""][rnd(4)]!;
      if (k === 0) return `{${Array.from({ length: rnd(4) }, () => `${ws()}"${keys[rnd(keys.length)]}"${ws()}:${ws()}${gen(depth + 1)}`).join(",")}}`;
      if (k === 1) return `[${Array.from({ length: rnd(4) }, () => ws() + gen(depth + 1)).join(",")}]`;
      return scalars[rnd(scalars.length)]!;
    };
    const masker = ResponseMasker.from([...RULES, ...DETECT], KEY)!;
    for (let n = 0; n < 300; n++) {
      const doc = gen(0);
      const b = Buffer.from(doc);
      const chunks: Buffer[] = [];
      for (let at = 0; at < b.length; ) {
        const len = 1 + rnd(12);
        chunks.push(b.subarray(at, at + len));
        at += len;
      }
      expect((await run(masker, chunks, 1 + rnd(64))).text).toBe(masker.maskJsonText(doc));
    }
  });

  it("passes an empty body as it came", async () => {
    expect((await run(ResponseMasker.from(RULES, KEY)!, [])).text).toBe("");
  });
});
