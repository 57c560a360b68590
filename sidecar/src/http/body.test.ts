import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { isWideText, upstreamBody } from "./body.js";
import { parseRequestBody } from "./request-body-facts.js";

const CAP = 64;
const b = (s: string): Buffer => Buffer.from(s);

describe("parseRequestBody", () => {
  it.each([
    ["empty", b(""), "application/json", undefined, { body_size: 0, truncated_body: false, body_parse_error: false, content_type: "application/json" }],
    ["json", b('{"a":1}'), "application/json; charset=utf-8", undefined, { parsed_body: { a: 1 }, body_parse_error: false }],
    ["+json", b("[1,2]"), "application/vnd.api+json", undefined, { parsed_body: [1, 2] }],
    ["bad json", b('{"a":'), "application/json", undefined, { body_parse_error: true, parsed_body: undefined, body: undefined }],
    ["json sniffed without content type", b(' {"jsonrpc":"2.0"}'), undefined, undefined, { parsed_body: { jsonrpc: "2.0" } }],
    ["json sniffed under text/plain", b('{"a":1}'), "text/plain", undefined, { parsed_body: { a: 1 } }],
    // Lenient readers (Python's json, Gson, Json.NET, Ruby's JSON) may read what JSON.parse refuses: unparsable, not text.
    ["brace text that is not json", b("{not json"), "text/plain", undefined, { body: undefined, body_parse_error: true }],
    ["NaN without a type", b('{"a":NaN}'), undefined, undefined, { body_parse_error: true }],
    ["a comment before the document", b('/* c */ {"a":1}'), "text/plain", undefined, { body_parse_error: true }],
    ["an anti-XSSI prefix", b(")]}'\n{\"a\":1}"), undefined, undefined, { body_parse_error: true }],
    ["text after a # line", b("# notes\nhello"), "text/plain", undefined, { body: "# notes\nhello", body_parse_error: false }],
    ["JSON lines are text", b('{"a":1}\n{"a":2}\n'), "application/x-ndjson", undefined, { body: '{"a":1}\n{"a":2}\n', body_parse_error: false }],
    // One document is JSON to readers that ignore the type, or take any element of a listed one (MCP's Python SDK).
    ["JSON lines that are one document", b('{"method":"tools/call"}\n'), "application/jsonl,application/json", undefined, { parsed_body: { method: "tools/call" }, body: undefined }],
    // Go's json.Decoder runs the first document and ignores the rest: a JSON-RPC message among lines is unparsable.
    ["JSON lines holding a JSON-RPC message", b('{"a":1}\n{"METHOD":"tools/call"}\n'), "application/x-ndjson", undefined, { body_parse_error: true, body: undefined }],
    ["JSON lines with a document across lines", b('{"a":\n1} {"jsonrpc":"2.0"}'), "application/x-ndjson", undefined, { body_parse_error: true }],
    // A key twice: JSON.parse keeps the last, gjson, jsonparser, simdjson and jiffy the first.
    ["a key twice", b('{"a":{"n":1,"n":2}}'), "application/json", undefined, { body_parse_error: true, parsed_body: undefined }],
    ["a key twice, once escaped", b('{"n":1,"\\u006e":2}'), "application/json", undefined, { body_parse_error: true }],
    ["keys in strings are not keys", b('{"a":"\\"b\\":1","c":[":"]}'), "application/json", undefined, { parsed_body: { a: '"b":1', c: [":"] } }],
    // Decimals a double does not hold: readers that keep them exact (Python's Decimal, Go's json.Number) compare another value.
    ["a decimal past a double", b('{"amount":1000.00000000000001}'), "application/json", undefined, { body_parse_error: true }],
    ["an exponent that reads as 0", b('{"amount":1e-400}'), "application/json", undefined, { body_parse_error: true }],
    ["decimals a double holds", b('{"a":0.1,"b":1.50e2,"c":-0,"d":123456789.123456,"e":2.5E-3}'), "application/json", undefined, { parsed_body: { a: 0.1, b: 150, c: -0, d: 123456789.123456, e: 0.0025 } }],
    // A charset the upstream decodes with (Django, DRF): only UTF-8 and ASCII read alike in every case.
    ["charset=utf-7", b('{"a":"+ACI-"}'), "application/json; charset=utf-7", undefined, { body_parse_error: true }],
    ["charset in RFC 2231 form", b('{"a":1}'), "application/json; charset*=utf-8''hz", undefined, { body_parse_error: true }],
    ["latin-1, ASCII only", b('{"a":1}'), "application/json; charset=ISO-8859-1", undefined, { parsed_body: { a: 1 } }],
    ["latin-1, not ASCII", b('{"a":"\u00e9"}'), "application/json; charset=ISO-8859-1", undefined, { body_parse_error: true }],
    ["latin-1 form, an escape past ASCII", b("a=%C3%A9"), "application/x-www-form-urlencoded; charset=latin1", undefined, { body_parse_error: true }],
    ["form", b("a=1&a=2&b=x+y"), "application/x-www-form-urlencoded", undefined, { parsed_body: { a: ["1", "2"], b: ["x y"] } }],
    ["text", b("hello"), "text/plain", undefined, { body: "hello" }],
    ["binary", Buffer.from([0xff, 0xfe, 0x00]), "application/octet-stream", undefined, { body: undefined, parsed_body: undefined, body_parse_error: false }],
    ["json that is not utf-8", Buffer.from([0x7b, 0xff, 0x7d]), "application/json", undefined, { body_parse_error: true }],
    ["over the cap", b(`{"a":"${"x".repeat(CAP)}"}`), "application/json", undefined, { truncated_body: true, parsed_body: undefined }],
    ["gzip json", gzipSync('{"a":1}'), "application/json", "gzip", { parsed_body: { a: 1 } }],
    ["gzip bomb", gzipSync(`{"a":"${"x".repeat(10_000)}"}`), "application/json", "gzip", { truncated_body: true, parsed_body: undefined }],
    ["unknown encoding", b("zzz"), "application/json", "zstd", { body_parse_error: true }],
    ["corrupt gzip", b("not gzip"), "application/json", "gzip", { body_parse_error: true }],
  ])("%s", (_name, raw, type, encoding, expected) => {
    const facts = parseRequestBody(raw, type, encoding, CAP);
    expect(facts.body_size).toBe(raw.length);
    for (const [k, v] of Object.entries(expected)) expect(facts[k as keyof typeof facts], k).toEqual(v);
  });

  it("never half-parses: a body exactly at the cap parses, one byte more does not", () => {
    const at = b(`{"a":"${"x".repeat(CAP - 8)}"}`);
    expect(at.length).toBe(CAP);
    expect(parseRequestBody(at, "application/json", undefined, CAP).parsed_body).toBeDefined();
    const over = b(`{"a":"${"x".repeat(CAP - 7)}"}`);
    expect(parseRequestBody(over, "application/json", undefined, CAP)).toEqual({
      body_size: CAP + 1,
      truncated_body: true,
      body_parse_error: false,
      content_type: "application/json",
    });
  });
});

describe("UTF-16 and UTF-32 bodies", () => {
  const json = '{"amount":1000000}';
  it.each([
    ["UTF-16LE", Buffer.from(json, "utf16le")],
    ["UTF-16BE", Buffer.from(json, "utf16le").swap16()],
    ["UTF-16LE with a BOM", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json, "utf16le")])],
    ["UTF-32LE", Buffer.from([...json].flatMap((c) => [c.charCodeAt(0), 0, 0, 0]))],
    ["UTF-32BE", Buffer.from([...json].flatMap((c) => [0, 0, 0, c.charCodeAt(0)]))],
  ])("%s is flagged unparsable, not passed as text", (_name, raw) => {
    expect(isWideText(raw)).toBe(true);
    for (const type of [undefined, "text/plain", "application/json"]) {
      const facts = parseRequestBody(raw, type, undefined, 1 << 20);
      expect(facts.body_parse_error).toBe(true);
      expect(facts.body).toBeUndefined();
      expect(facts.parsed_body).toBeUndefined();
    }
  });

  it("UTF-8 text and declared binary types are left as they were", () => {
    expect(isWideText(Buffer.from(json))).toBe(false);
    expect(parseRequestBody(Buffer.from(json), undefined, undefined, 1 << 20).parsed_body).toEqual({ amount: 1000000 });
    expect(parseRequestBody(Buffer.from([0x08, 0x00, 0x10, 0x01]), "application/octet-stream", undefined, 1 << 20).body_parse_error).toBe(false);
  });
});

describe("keys that case-insensitive decoders read as one", () => {
  it.each([
    ['{"name":"read","Name":"delete"}'],
    ['{"params":{"name":"read"},"Params":{"name":"delete"}}'],
    ['{"a":[{"amount":1,"AMOUNT":1000000}]}'],
    ['{"params":1,"paramſ":2}'],
  ])("%s is flagged unparsable: the policy and a Go upstream would read different values", (text) => {
    const facts = parseRequestBody(Buffer.from(text), "application/json", undefined, 1 << 20);
    expect(facts.body_parse_error).toBe(true);
    expect(facts.parsed_body).toBeUndefined();
  });

  it("distinct keys, and the same key in different objects, parse as usual", () => {
    expect(parseRequestBody(Buffer.from('{"a":{"name":1},"b":{"Name":2}}'), "application/json", undefined, 1 << 20).parsed_body).toEqual({ a: { name: 1 }, b: { Name: 2 } });
  });
});

describe("bodies an upstream may read otherwise (fourth red-team pass)", () => {
  it.each([
    ["application/x-www-form-urlencoded,text/plain"],
    ["application/x-www-form-urlencoded text/plain"],
  ])("a media type cut at a comma or space, as PHP cuts it: %s is a form", (type) => {
    expect(parseRequestBody(Buffer.from("_method=DELETE"), type, undefined, 1 << 20).parsed_body).toEqual({ _method: ["DELETE"] });
  });

  it("a Content-Type with non-ASCII bytes (Go folds appl\u0130cation to application) is unparsable", () => {
    const facts = parseRequestBody(Buffer.from("_method=DELETE"), "appl\u00c4\u00b0cation/x-www-form-urlencoded", undefined, 1 << 20);
    expect(facts.body_parse_error).toBe(true);
  });

  it("JSON that is not UTF-8 is unparsable whatever its declared type", () => {
    const raw = Buffer.concat([Buffer.from('{"name":"delete_customer","x":"'), Buffer.from([0xff]), Buffer.from('"}')]);
    expect(parseRequestBody(raw, "text/plain", undefined, 1 << 20).body_parse_error).toBe(true);
  });

  it.each([['{"amount": 9007199254740993}'], ['{"amount": 1e400}'], ['[{"a": -1e309}]']])("%s, a number JSON.parse cannot hold, is unparsable", (text) => {
    expect(parseRequestBody(Buffer.from(text), "application/json", undefined, 1 << 20).body_parse_error).toBe(true);
  });

  it("safe integers and ordinary fractions parse as usual", () => {
    expect(parseRequestBody(Buffer.from('{"a": 9007199254740991, "b": 0.1}'), "application/json", undefined, 1 << 20).parsed_body).toEqual({ a: 9007199254740991, b: 0.1 });
  });
});

describe("upstreamBody: what goes upstream is what was judged", () => {
  it.each([
    ["no encoding", undefined, b("a=1"), { ok: true, body: b("a=1"), inflated: false }],
    ["identity", " Identity ", b("a=1"), { ok: true, body: b("a=1"), inflated: false }],
    ["gzip", "gzip", gzipSync("a=1"), { ok: true, body: b("a=1"), inflated: true }],
    ["deflate", "deflate", deflateSync("a=1"), { ok: true, body: b("a=1"), inflated: true }],
    ["br", "BR", brotliCompressSync("a=1"), { ok: true, body: b("a=1"), inflated: true }],
    ["an encoding regate cannot undo", "zstd", b("a=1"), { ok: false, reason: "unsupported" }],
    ["a body that is not what its encoding says", "gzip", b("a=1"), { ok: false, reason: "unsupported" }],
    ["inflating past the cap", "gzip", gzipSync("a".repeat(CAP + 1)), { ok: false, reason: "too_large" }],
  ])("%s", (_name, encoding, raw, expected) => {
    expect(upstreamBody(raw, encoding, CAP)).toEqual(expected);
  });
});
