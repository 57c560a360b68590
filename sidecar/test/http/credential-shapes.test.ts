// regate's own route credential, echoed by a real upstream in every shape the response masker decodes
// (masker.ts and what it calls: byte-arrays.ts, base64-view.ts, base64-runs.ts, embedded-json.ts,
// python-json.ts, detected-text.ts's backslash escapes, mask/text-views.ts's percent escapes, HTML
// references, NFKC and invisible characters; json-lines.ts, xssi.ts, sse-mask.ts, charset.ts;
// header-base64.ts and percent-view.ts for headers), never reaches the agent in a form it can read back:
// whole bodies, bodies chunked at awkward points, gzip bodies and response headers, with no mask rules and
// under detector and field rules. The agent gets a scrubbed body or a clear refusal, never the credential.

import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allLogs, authed, maskingGateway, rawRequest, type GatewayUnderTest, type RawResponse } from "./fixtures.js";
import { writePieces } from "./pieces.js";

/** Has "+", "/" and "=" (percent-encoding and base64 alphabets differ on them) and is long enough to matter. */
const SECRET = `sk_live+Ab/${randomBytes(10).toString("hex")}Zq=`;

const u8 = (s: string): Record<string, number> => JSON.parse(JSON.stringify(new Uint8Array(Buffer.from(s)))) as Record<string, number>;
const bytes = (s: string): number[] => [...Buffer.from(s)];
const b64 = (s: string): string => Buffer.from(s).toString("base64");
const b64url = (s: string): string => Buffer.from(s).toString("base64url");
const uesc = (s: string): string => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
const xesc = (s: string): string => [...s].map((c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join("");
const entities = (s: string): string => [...s].map((c) => `&#${c.charCodeAt(0)};`).join("");
const hexEntities = (s: string): string => [...s].map((c) => `&#x${c.charCodeAt(0).toString(16)};`).join("");
const fullwidth = (s: string): string => [...s].map((c) => (c >= "!" && c <= "~" ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join("");
const zeroWidth = (s: string): string => [...s].join("\u200b");
const pctAll = (s: string): string => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
const jwt = (claims: unknown): string => `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url(JSON.stringify(claims))}.c2lnbmF0dXJlLWJ5dGVz`;

const JSON_TYPE = "application/json";

/** A shape: the body (or header value) an upstream echoing `s` writes, and its content type. */
interface Shape {
  type: string;
  body: (s: string) => string;
  /** Also sent as a response header value (ASCII, one line). */
  header?: (s: string) => string;
}

/** Every shape the masker reads values in, each holding the echoed credential. */
const SHAPES: Record<string, Shape> = {
  "plain JSON string": { type: JSON_TYPE, body: (s) => JSON.stringify({ echo: s }), header: (s) => s },
  "JSON \\u escapes": { type: JSON_TYPE, body: (s) => `{"echo":"${uesc(s)}"}`, header: uesc },
  "JavaScript \\x escapes in text": { type: "text/plain", body: (s) => `token='${xesc(s)}'`, header: xesc },
  "percent-encoding, every byte": { type: JSON_TYPE, body: (s) => JSON.stringify({ next: `https://cb.example/?t=${pctAll(s)}` }), header: (s) => `https://cb.example/?t=${pctAll(s)}` },
  "HTML decimal references": { type: "text/html", body: (s) => `<p>${entities(s)}</p>`, header: entities },
  "HTML hex references": { type: "text/html", body: (s) => `<p>${hexEntities(s)}</p>`, header: hexEntities },
  "NFKC fullwidth characters": { type: JSON_TYPE, body: (s) => JSON.stringify({ echo: fullwidth(s) }) },
  "invisible characters between": { type: JSON_TYPE, body: (s) => JSON.stringify({ echo: zeroWidth(s) }) },
  "base64 string": { type: JSON_TYPE, body: (s) => JSON.stringify({ blob: b64(`Authorization: Bearer ${s}`) }), header: (s) => b64(`Bearer ${s}`) },
  "base64url string": { type: JSON_TYPE, body: (s) => JSON.stringify({ blob: b64url(`Bearer ${s}`) }), header: (s) => b64url(`Bearer ${s}`) },
  "JWT whose claims hold it": { type: JSON_TYPE, body: (s) => JSON.stringify({ id_token: jwt({ sub: "u1", upstream: s }) }), header: (s) => `Bearer ${jwt({ upstream: s })}` },
  "base64 run inside text": { type: "text/plain", body: (s) => `note: saw ${b64(`key=${s}`)} in the request`, header: (s) => `saw ${b64(`key=${s}`)} here` },
  "byte array": { type: JSON_TYPE, body: (s) => JSON.stringify({ data: bytes(s) }), header: (s) => bytes(s).join(",") },
  "Node Buffer JSON, pretty-printed": { type: JSON_TYPE, body: (s) => JSON.stringify({ auth: Buffer.from(s) }, null, 2) },
  "Uint8Array object": { type: JSON_TYPE, body: (s) => JSON.stringify({ auth: u8(s) }), header: (s) => JSON.stringify(u8(s)) },
  "Uint8Array object, pretty-printed": { type: JSON_TYPE, body: (s) => JSON.stringify({ auth: u8(s) }, null, 2) },
  "Uint8Array object, the whole body": { type: JSON_TYPE, body: (s) => JSON.stringify(u8(`Bearer ${s}`)) },
  "Uint8Array of its base64": { type: JSON_TYPE, body: (s) => JSON.stringify({ auth: u8(b64(`Bearer ${s}`)) }) },
  "byte array of its base64": { type: JSON_TYPE, body: (s) => JSON.stringify({ auth: bytes(b64(`Bearer ${s}`)) }) },
  "base64 of a document holding a Uint8Array": { type: JSON_TYPE, body: (s) => JSON.stringify({ blob: b64(JSON.stringify({ key: u8(s) })) }) },
  "JSON in a string": { type: JSON_TYPE, body: (s) => JSON.stringify({ content: [{ type: "text", text: JSON.stringify({ headers: { authorization: `Bearer ${s}` } }) }] }) },
  "JSON in a string holding \\u escapes": { type: JSON_TYPE, body: (s) => JSON.stringify({ text: `{"echo":"${uesc(s)}"}` }) },
  "JSON in a string holding a Uint8Array": { type: JSON_TYPE, body: (s) => JSON.stringify({ text: JSON.stringify({ key: u8(s) }) }) },
  "JSON in a string holding a byte array": { type: JSON_TYPE, body: (s) => JSON.stringify({ text: JSON.stringify({ key: bytes(s) }) }) },
  "Python JSON (NaN) holding a Uint8Array": { type: JSON_TYPE, body: (s) => `{"score": NaN, "auth": ${JSON.stringify(u8(s))}}` },
  "NDJSON lines holding a Uint8Array": { type: "application/x-ndjson", body: (s) => `{"n":1}\n${JSON.stringify({ auth: u8(s) })}\n{"n":2}\n` },
  "XSSI prefix before a Uint8Array": { type: JSON_TYPE, body: (s) => `)]}'\n${JSON.stringify({ auth: u8(s) })}` },
  "event stream data holding a Uint8Array": { type: "text/event-stream", body: (s) => `data: {"n":1}\n\ndata: ${JSON.stringify({ auth: u8(s) })}\n\n` },
  "event stream data holding a byte array": { type: "text/event-stream", body: (s) => `data: ${JSON.stringify({ auth: bytes(s) })}\n\n` },
  "event stream, CRLF lines, base64": { type: "text/event-stream", body: (s) => `data: {"n":1}\r\n\r\ndata: ${JSON.stringify({ blob: b64(`Bearer ${s}`) })}\r\n\r\n` },
  "hex": { type: JSON_TYPE, body: (s) => JSON.stringify({ hex: Buffer.from(s).toString("hex") }), header: (s) => Buffer.from(s).toString("hex") },
};

// ---- what an agent can read out of what it got (the test's own decoders, not regate's) ----

const decodeNumericRefs = (t: string): string => t.replace(/&#[xX]([0-9a-fA-F]+);?/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16))).replace(/&#([0-9]+);?/g, (_, d: string) => String.fromCodePoint(Number(d)));
const decodeBackslash = (t: string): string => t.replace(/\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})/g, (_, u?: string, x?: string) => String.fromCharCode(parseInt((u ?? x)!, 16)));

/** Text carried as byte values: arrays and objects keyed "0", "1", ... whose values are all 0..255. */
function byteTexts(v: unknown, out: string[]): void {
  if (Array.isArray(v)) {
    if (v.length >= 4 && v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) out.push(Buffer.from(v as number[]).toString("latin1"));
    v.forEach((x) => byteTexts(x, out));
  } else if (v && typeof v === "object") {
    const keys = Object.keys(v);
    const vals = Object.values(v);
    if (keys.length >= 4 && keys.every((k, i) => k === String(i)) && vals.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) out.push(Buffer.from(vals as number[]).toString("latin1"));
    vals.forEach((x) => byteTexts(x, out));
  } else if (typeof v === "string") {
    out.push(v);
    const inner = tryJson(v);
    if (inner !== undefined) byteTexts(inner, out);
  }
}

function tryJson(t: string): unknown {
  try {
    return JSON.parse(t.replace(/\bNaN\b/g, "null"));
  } catch {
    return undefined;
  }
}

/** Every reading of `text` an agent could make, a few layers deep. */
function readingsOf(text: string, depth = 0): string[] {
  const out = new Set<string>([text]);
  const add = (t: string): void => {
    if (!out.has(t)) out.add(t);
  };
  add(text.normalize("NFKC").replace(/[\p{Default_Ignorable_Code_Point}]/gu, ""));
  add(decodeNumericRefs(text));
  add(decodeBackslash(text));
  try {
    add(decodeURIComponent(text));
  } catch {
    add(text.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))));
  }
  // JSON documents: the whole body, after an XSSI prefix, each line, each event's data.
  const docs = [text, text.replace(/^\)\]\}'\r?\n/, ""), ...text.split(/\r?\n/), ...[...text.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]!)];
  for (const d of docs) {
    const v = tryJson(d);
    if (v === undefined) continue;
    const texts: string[] = [];
    byteTexts(v, texts);
    texts.forEach(add);
  }
  for (const run of text.match(/[A-Za-z0-9+/_-]{12,}={0,2}/g) ?? []) add(Buffer.from(run, run.includes("-") || run.includes("_") ? "base64url" : "base64").toString("latin1"));
  for (const run of text.match(/(?:[0-9a-fA-F]{2}){8,}/g) ?? []) add(Buffer.from(run, "hex").toString("latin1"));
  if (depth >= 2) return [...out];
  return [...new Set([...out].flatMap((t) => (t === text ? [t] : readingsOf(t, depth + 1))))];
}

/** The forms of the credential that must not be in what the agent got, raw or read back. */
function leaksIn(r: RawResponse): string[] {
  const head = Object.values(r.headers).flat().join("\n");
  const texts = [head, r.body.toString("utf8")];
  const found = new Set<string>();
  const raw = head + r.body.toString("latin1");
  const forms: Record<string, string> = { decimal: bytes(SECRET).join(","), hex: Buffer.from(SECRET).toString("hex") };
  for (let pad = 0; pad < 3; pad++) {
    const enc = Buffer.from("A".repeat(pad) + SECRET).toString("base64");
    forms[`base64@${pad}`] = enc.slice(Math.ceil((8 * pad) / 6), Math.floor((8 * (pad + SECRET.length)) / 6));
  }
  for (const [name, f] of Object.entries(forms)) if (raw.toLowerCase().includes(f.toLowerCase())) found.add(name);
  for (const t of texts) for (const reading of readingsOf(t)) if (reading.replace(/\s+/g, "").includes(SECRET)) found.add("read back");
  return [...found];
}

// ---- the upstream: echoes the credential it was sent, in the shape and delivery the path names ----

/** Splits that fall inside the credential's spelling, whatever the shape: a third, a half, each a byte apart. */
function awkwardCuts(n: number): number[] {
  return [...new Set([1, Math.floor(n / 3), Math.floor(n / 3) + 1, Math.floor(n / 2), Math.floor((2 * n) / 3), n - 1])].filter((c) => c > 0 && c < n).sort((a, b) => a - b);
}

function echo(req: IncomingMessage, res: ServerResponse): void {
  const [, index, delivery] = /\/shape\/(\d+)\/([a-z]+)/.exec(req.url ?? "") ?? [];
  const shape = Object.values(SHAPES)[Number(index)];
  const secret = (req.headers.authorization ?? "").replace(/^Bearer /, "");
  if (!shape || secret === "") {
    res.writeHead(404).end();
    return;
  }
  const body = Buffer.from(shape.body(secret));
  if (delivery === "header") {
    res.writeHead(200, { "content-type": JSON_TYPE, "x-echo": shape.header!(secret), "content-length": 2 }).end("{}");
  } else if (delivery === "gzip") {
    const gz = gzipSync(body);
    res.writeHead(200, { "content-type": shape.type, "content-encoding": "gzip", "content-length": gz.length }).end(gz);
  } else if (delivery === "chunks") {
    res.writeHead(200, { "content-type": shape.type });
    const cuts = [0, ...awkwardCuts(body.length), body.length];
    writePieces(res, cuts.slice(1).map((c, k) => body.subarray(cuts[k], c)), 4);
  } else {
    res.writeHead(200, { "content-type": shape.type, "content-length": body.length }).end(body);
  }
}

let gw: GatewayUnderTest;
let closeAll: () => Promise<void>;

beforeAll(async () => {
  const g = await maskingGateway(echo, { route: { credential: { type: "bearer", value: SECRET } } });
  gw = g.gw;
  closeAll = g.close;
});

afterAll(async () => {
  await closeAll();
});

const fetchShape = (prefix: string, name: string, delivery: string): Promise<RawResponse> =>
  rawRequest(`${gw.url}${prefix}shape/${Object.keys(SHAPES).indexOf(name)}/${delivery}`, { headers: authed({ "accept-encoding": "identity" }) });

/** A scrubbed answer (the upstream's status, its bytes with the credential overwritten) or a clear refusal. */
function scrubbedOrRefused(r: RawResponse): void {
  if (r.status === 200) return;
  expect([403, 502]).toContain(r.status);
  const err = JSON.parse(r.body.toString()) as { code: string; reason?: string };
  expect(["UPSTREAM_RESPONSE_REFUSED", "MASK_LINEAGE_UNKNOWN"]).toContain(err.code);
}

const PATHS = [
  ["no mask rules (scrubbed as it streams)", "/"],
  ["detector rules", "/d/"],
  ["field rules", "/f/"],
] as const;

describe.each(PATHS)("the route credential echoed, %s", (_label, prefix) => {
  const bodies = Object.keys(SHAPES).flatMap((name) => ["whole", "chunks", "gzip"].map((d) => [name, d] as const));
  it.each(bodies)("%s, %s body: not readable by the agent", async (name, delivery) => {
    const r = await fetchShape(prefix, name, delivery);
    expect(leaksIn(r)).toEqual([]);
    scrubbedOrRefused(r);
  });

  const headers = Object.entries(SHAPES).filter(([, s]) => s.header !== undefined).map(([name]) => name);
  it.each(headers)("%s, in a response header: not readable by the agent", async (name) => {
    const r = await fetchShape(prefix, name, "header");
    expect(leaksIn(r)).toEqual([]);
    scrubbedOrRefused(r);
  });
});

describe("the test's reader is not blind", () => {
  it.each(Object.keys(SHAPES))("reads the credential back out of %s as the upstream wrote it", (name) => {
    const body = Buffer.from(SHAPES[name]!.body(SECRET));
    expect(leaksIn({ status: 200, headers: {}, body })).not.toEqual([]);
  });
});

it("no log line carries the credential", () => {
  expect(allLogs(gw.lines)).not.toContain(SECRET);
});
