// JSON carried in JSON strings under field rules: masked in place, every other character of the response
// kept as its server wrote it, JSON pointers read through the string, in the whole-body, streaming and
// event-data paths alike.

import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { REDACTED } from "../mask/index.js";
import { JsonMaskStream } from "./json-stream.js";
import { ResponseMasker } from "./masker.js";

const SSN = "123-45-6789";
const EMAIL = "alice@example.com";

/** A JSON string as Python's json.dumps writes it (ensure_ascii): everything past ASCII as `\uXXXX`. */
const pyString = (s: string): string => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
/** A JSON string as Go's encoding/json writes it: `<`, `>` and `&` escaped for HTML. */
const goString = (s: string): string => JSON.stringify(s).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
/** A JSON string as PHP's json_encode writes it: `/` escaped. */
const phpString = (s: string): string => JSON.stringify(s).replace(/\//g, "\\/");

/**
 * A record as a tool serialises it (JSON.stringify, or json.dumps with ensure_ascii=False: UTF-8 as it is),
 * with exact numbers, text past ASCII, markup and a URL: what the server's own encoder escapes its way.
 */
const record = (ssn: string): string => `{"name": ${JSON.stringify("José <b>Núñez</b> 😀")}, "ssn": ${JSON.stringify(ssn)}, "site": "https://x.io/a", "id": 12345678901234567890, "amount": 1.10}`;

/** An MCP tools/call answer carrying the record as text, the answer written by `str`'s server. */
const mcpAnswer = (ssn: string, str: (s: string) => string): string =>
  `{"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": ${str(record(ssn))}}], "isError": false}}`;

/** `{"data": ...}` holding the record encoded twice (each time by `str`), beside a string that does not parse. */
const twice = (ssn: string, str: (s: string) => string): string => `{"data":${str(str(record(ssn)))},"raw":${str(`{not json ${SSN} é/<`)}}`;

const FIELD: MaskRule[] = [{ field: "ssn", strategy: "redact" }];

/** Each path that applies field rules to a whole document: the body, a streamed body (every split), an event's data. */
async function everyPath(rules: MaskRule[], doc: string): Promise<string[]> {
  const m = ResponseMasker.from(rules)!;
  const out = [m.maskJsonText(doc), m.maskEventData(doc)];
  const bytes = Buffer.from(doc, "utf8");
  for (const cut of [1, 17, Math.floor(bytes.length / 2), bytes.length - 3]) out.push(await stream(m, [bytes.subarray(0, cut), bytes.subarray(cut)]));
  out.push(await stream(m, [...bytes].map((b) => Buffer.from([b]))));
  return out;
}

function stream(m: ResponseMasker, chunks: Buffer[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = new JsonMaskStream(m, { holdChars: 1 << 16, maxTokenChars: 1 << 20 });
    const out: Buffer[] = [];
    s.on("data", (b: Buffer) => out.push(b));
    s.on("error", reject);
    s.on("end", () => resolve(Buffer.concat(out).toString("utf8")));
    for (const c of chunks) s.write(c);
    s.end();
  });
}

describe("JSON embedded in a string keeps every byte the masks did not change", () => {
  it.each([
    ["Python (ensure_ascii)", pyString],
    ["Go (HTML escapes)", goString],
    ["PHP (escaped slashes)", phpString],
  ])("an MCP tool result written by %s", async (_server, str) => {
    for (const out of await everyPath(FIELD, mcpAnswer(SSN, str))) expect(out).toBe(mcpAnswer(REDACTED, str));
  });

  it.each([
    ["Python (ensure_ascii)", pyString],
    ["Go (HTML escapes)", goString],
    ["PHP (escaped slashes)", phpString],
  ])("a payload encoded twice by %s (a string that does not parse left as it is)", async (_server, str) => {
    for (const out of await everyPath(FIELD, twice(SSN, str))) expect(out).toBe(twice(REDACTED, str));
  });
});

describe("JSON pointers read through JSON carried in strings", () => {
  const person = (ssn: string, email: string) => JSON.stringify({ email, ssn, name: "Alice" });
  it.each([
    [
      "a wrapped payload (not the same document at another path)",
      [{ field: "/data/email", strategy: "redact" }],
      (e: string, s: string) => JSON.stringify({ data: person(s, e), other: person(SSN, EMAIL), email: EMAIL }),
      [REDACTED, SSN],
    ],
    [
      "an MCP tool result, any content item",
      [{ field: "/result/content/*/text/ssn", strategy: "redact" }],
      (e: string, s: string) => JSON.stringify({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: person(s, e) }] } }),
      [EMAIL, REDACTED],
    ],
    ["a payload encoded twice", [{ field: "/data/ssn", strategy: "redact" }], (e: string, s: string) => JSON.stringify({ data: JSON.stringify(person(s, e)) }), [EMAIL, REDACTED]],
    ["a pointer's case folded", [{ field: "/DATA/Email", strategy: "redact" }], (e: string, s: string) => JSON.stringify({ data: person(s, e) }), [REDACTED, SSN]],
  ] as const)("%s", async (_name, rules, doc, [email, ssn]) => {
    for (const out of await everyPath([...rules], doc(EMAIL, SSN))) expect(out).toBe(doc(email, ssn));
  });
});
