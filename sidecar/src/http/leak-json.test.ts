// The credential cut into JSON pieces an agent joins back (leak-json.ts, leak-paths.ts): string values of
// stream events and NDJSON lines, array elements, keys and values, the same field across events or records.
// Each body is read the way an agent would read it, and streamed split at every byte offset as well as whole.

import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { scrubBuffer, SecretScrubber, secretForms } from "./scrub.js";

const TOKEN = "tok+AbC/dEf0123456789xyz==";
const forms = secretForms([TOKEN]);
const pieces = (s: string, n: number): string[] => s.match(new RegExp(`.{1,${n}}`, "gs"))!;
const [HEAD, TAIL] = [TOKEN.slice(0, 11), TOKEN.slice(11)];

interface Joins {
  /** Keys, strings and numbers in order. */
  tokens: string[];
  values: string[];
  /** By path (array indices as *), and by depth and key name. */
  paths: Map<string, string[]>;
  names: Map<string, string[]>;
}

function walk(v: unknown, path: string, name: string, j: Joins): void {
  if (typeof v === "string" || typeof v === "number") {
    j.tokens.push(String(v));
    j.values.push(String(v));
    for (const [map, k] of [[j.paths, path], [j.names, name]] as const) map.set(k, [...(map.get(k) ?? []), String(v)]);
  } else if (Array.isArray(v)) v.forEach((x) => walk(x, `${path}[*]`, name, j));
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      j.tokens.push(k);
      walk(x, `${path}.${k}`, `${path.split(".").length}:${k}`, j);
    }
  }
}

/** What an agent joins out of JSON documents: in order, values in order, the values of each path, of each key name. */
function joined(docs: unknown[]): string[] {
  const j: Joins = { tokens: [], values: [], paths: new Map(), names: new Map() };
  for (const d of docs) walk(d, "", "", j);
  return [j.tokens.join(""), j.values.join(""), ...[...j.paths.values(), ...j.names.values()].map((v) => v.join(""))];
}

const parse = (s: string): unknown[] => {
  try {
    return [JSON.parse(s)];
  } catch {
    return [];
  }
};
const events = (body: string): unknown[] => body.split(/\r?\n\r?\n/).flatMap((e) => parse(e.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n")));
const lines = (body: string): unknown[] => body.split(/\r?\n/).flatMap(parse);
/** All an agent could read out of a body, JSON joined every way above. */
const readings = (body: string): string[] => [body, ...joined(events(body)), ...joined(lines(body)), ...joined(parse(body))];

const oa = (content: string, i: number): string =>
  `data: ${JSON.stringify({ id: "chatcmpl-9xYz", object: "chat.completion.chunk", created: 1700000000 + i, model: "gpt-4o-mini", choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }] })}\n\n`;

/** Each case: the body as the upstream sends it, in the pieces it writes, and whether it is an event stream. */
const CASES: [string, string[], boolean][] = [
  ["event data as JSON strings", [HEAD, TAIL].map((p) => `data: {"d":"${p}"}\n\n`), true],
  ["chat-completion deltas (minimal shape)", [HEAD, TAIL].map((p) => `data: {"choices":[{"delta":{"content":"${p}"}}]}\n\n`), true],
  ["chat-completion deltas (real shape: id, model and more between the pieces)", [...pieces(TOKEN, 3).map(oa), "data: [DONE]\n\n"], true],
  ["Anthropic text deltas with pings between", pieces(TOKEN, 4).flatMap((p) => [`event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${p}"}}\n\n`, `event: ping\ndata: {"type": "ping"}\n\n`]), true],
  ["an event whose JSON spans data lines", [`data: {"d":\ndata: "${HEAD}"}\n\n`, `data: {"d":"${TAIL}"}\n\n`], true],
  ["JSON-escaped pieces", [HEAD, TAIL].map((p) => `data: {"d":"${p.replace(/\//g, "\\/").replace(/\+/g, "\\u002b")}"}\n\n`), true],
  ["NDJSON lines", [HEAD, TAIL].map((p) => `{"d":"${p}"}\n`), false],
  ["NDJSON lines with CRLF and other fields", pieces(TOKEN, 5).map((p, i) => `{"i":${i},"at":"2026-11-30","d":"${p}"}\r\n`), false],
  ["array elements", [`["${HEAD}",`, `"${TAIL}"]`], false],
  ["one character per element", [JSON.stringify([...TOKEN])], false],
  ["object values", [`{"a":"${HEAD}",`, `"b":"${TAIL}"}`], false],
  ["a key and its value", [`{"${HEAD}":`, `"${TAIL}"}`], false],
  ["records of an array, other fields between", [JSON.stringify(pieces(TOKEN, 4).map((t, i) => ({ i, id: `x${i}`, t })))], false],
  ["records of a map keyed by id", [JSON.stringify({ users: Object.fromEntries(pieces(TOKEN, 5).map((t, i) => [`id${i}`, { name: "x", t }])) })], false],
  ["an error body's frames", [JSON.stringify({ error: { message: "failed", frames: pieces(TOKEN, 6) } })], false],
  ["base64 of it in pieces", [JSON.stringify(pieces(Buffer.from(`Bearer ${TOKEN}`).toString("base64"), 5))], false],
  ["hex of it in pairs", [JSON.stringify(Buffer.from(TOKEN).toString("hex").match(/../g))], false],
  ["hex of it as numbers and strings", [`[${Buffer.from(TOKEN).toString("hex").match(/../g)!.map((x) => (/^\d+$/.test(x) ? x : `"${x}"`)).join(",")}]`], false],
];

async function streamed(chunks: Buffer[], sse: boolean): Promise<string> {
  const out: Buffer[] = [];
  for await (const c of Readable.from(chunks).pipe(new SecretScrubber(forms, true, { sse }))) out.push(c as Buffer);
  return Buffer.concat(out).toString("latin1");
}

const readsToken = (body: string): boolean => readings(body).some((r) => r.includes(TOKEN) || Buffer.from(r.replace(/\s+/g, ""), "base64").toString("latin1").includes(TOKEN) || Buffer.from(r, "hex").toString("latin1").includes(TOKEN));

describe("a credential cut into JSON pieces", () => {
  it.each(CASES)("%s: the agent cannot join it back", async (name, parts, sse) => {
    const body = parts.join("");
    expect(readsToken(body), "the case really carries the token").toBe(true);
    const whole = scrubBuffer(Buffer.from(body), forms, { sse }).toString("latin1");
    expect(readsToken(whole)).toBe(false);
    // Lengths and framing stay: "*" for each byte.
    expect(whole.length).toBe(body.length);
    expect(whole.replace(/[^\n]/g, "")).toBe(body.replace(/[^\n]/g, ""));
    // As the upstream wrote it, piece by piece, and split at every byte offset: unreadable too, and as whole
    // but for at most three bytes of a piece's tail that went out before the rest of the form came (seven hex
    // digits: three and a half bytes).
    const allowed = name.startsWith("hex") ? 8 : 4;
    const bytes = Buffer.from(body);
    const splits = [parts.map((p) => Buffer.from(p))];
    for (let i = 1; i < bytes.length; i += Math.max(1, Math.floor(bytes.length / 97))) splits.push([bytes.subarray(0, i), bytes.subarray(i)]);
    for (const chunks of splits) {
      const out = await streamed(chunks, sse);
      expect(readsToken(out), `chunks ${chunks.map((c) => c.length)}`).toBe(false);
      expect(out.length).toBe(whole.length);
      let ahead = 0;
      for (let k = 0; k < out.length; k++) if (out[k] !== whole[k]) ahead += whole[k] === "*" && out[k] === body[k] ? 1 : 100;
      expect(ahead, `chunks ${chunks.map((c) => c.length)}`).toBeLessThan(allowed);
    }
  });

  it("a join settled right at a piece's last byte takes over what the first view holds there", async () => {
    // The joins read "%2" then "7" as an escape that fails at the end of "7", settled there; the first view
    // holds a hex candidate ("7") there, which they must carry into the next piece. (Missed before.)
    const hex = Buffer.from(TOKEN).toString("hex");
    const body = JSON.stringify(["%2", hex.slice(0, 1), hex.slice(1)]);
    const want = JSON.stringify(["%2", "*", "*".repeat(hex.length - 1)]);
    expect(scrubBuffer(Buffer.from(body), forms).toString()).toBe(want);
    // Streamed, its first digits may go out before the rest comes: fewer than the eight a join holds back for.
    const bytes = Buffer.from(body);
    for (let i = 1; i < bytes.length; i++) {
      const out = await streamed([bytes.subarray(0, i), bytes.subarray(i)], false);
      let ahead = 0;
      for (let k = 0; k < out.length; k++) if (out[k] !== want[k]) ahead += want[k] === "*" && out[k] === body[k] ? 1 : 100;
      expect(ahead, `split at ${i}`).toBeLessThan(8);
    }
  });

  it("fewer than four bytes of it can go out before the rest is known, never more", async () => {
    // One character per event, each its own chunk: a one-byte tail is let go at once (or every stream
    // would stall on values whose last byte could start a form); from the fourth on, it is held.
    const parts = [...TOKEN].map((c) => Buffer.from(`data: {"d":"${c}"}\n\n`));
    const out = await streamed(parts, true);
    const got = events(out).map((e) => (e as { d: string }).d).join("");
    expect(got.startsWith(TOKEN.slice(0, 3))).toBe(true);
    expect(got).toBe(TOKEN.slice(0, 3) + "*".repeat(TOKEN.length - 3));
  });
});

describe("must-allow: JSON without the credential passes byte for byte, and streams are not held", () => {
  const innocent: [string, string, boolean][] = [
    ["chat deltas", ["The", " quick", " tok", "en", " fox", " 0123", "456789"].map(oa).join("") + "data: [DONE]\n\n", true],
    ["records", JSON.stringify(Array.from({ length: 30 }, (_, i) => ({ id: 12345678901234567890n.toString(), n: i * 1.5, tag: ["tok", "AbC", "dEf"][i % 3], hex: (i * 7919).toString(16) }))), false],
    ["NDJSON", ["tok", "+AbC", "/dEf", "0123"].map((t, i) => JSON.stringify({ i, t }) + "\n").join(""), false],
  ];
  it.each(innocent)("%s", async (_name, body, sse) => {
    const bytes = Buffer.from(body);
    expect(scrubBuffer(bytes, forms, { sse })).toEqual(bytes);
    for (let i = 1; i < bytes.length; i += 7) expect(await streamed([bytes.subarray(0, i), bytes.subarray(i)], sse), `split at ${i}`).toBe(body);
  });

  it("an event whose value ends in a byte that could start the credential goes out at once", async () => {
    const s = new SecretScrubber(forms, true, { sse: true });
    const seen: string[] = [];
    s.on("data", (c: Buffer) => seen.push(c.toString()));
    // "tok" is three bytes of it: the JSON joins wait only from four.
    const first = oa("a tok", 0);
    s.write(Buffer.from(first));
    await new Promise((r) => setImmediate(r));
    expect(seen.join("")).toBe(first);
    s.end();
  });
});
