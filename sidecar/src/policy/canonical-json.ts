import { RegateError } from "../errors.js";

/**
 * The byte form OPA hashes for a structured bundle file (data.json, .manifest) when it signs or
 * verifies a bundle: keys sorted by their UTF-8 bytes, no whitespace, numbers kept as written (OPA
 * decodes with json.Number), strings escaped as Go's encoding/json does with HTML escaping off.
 * JSON.parse cannot be used: it turns `1.0` into `1` and the hash would no longer match.
 */
export function canonicalJson(text: string, budget: JsonBudget = jsonBudget()): string {
  const p = new Parser(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, budget);
  p.ws();
  const out = p.value();
  p.ws();
  if (p.i !== p.s.length) p.fail("trailing characters");
  return out;
}

/**
 * Most JSON values (scalars, arrays, objects) the structured files of one bundle may hold together. The files
 * are read before anything is known about them (a bundle server or a man in the middle chooses them), and
 * JSON costs far more to hold than to send: 60 MiB of `{},` is a 60 KB download that JSON.parse turns into
 * 1.5 GB of objects and tens of seconds on the thread that serves every connection. Two million values is
 * far more than a policy's data needs (the whole of a large allow-list), and costs at most ~150 MB.
 */
export const MAX_JSON_VALUES = 2_000_000;
/** Budget of a document that is a few values whatever the bundle (.signatures.json, a token's header). */
export const SMALL_JSON_VALUES = 1000;
/** Deepest nesting of arrays and objects (Go's encoding/json stops at 10,000; a policy's data needs a handful). */
export const MAX_JSON_DEPTH = 1000;

/** What is left to parse, shared by every structured file of one bundle. */
export interface JsonBudget {
  values: number;
  readonly limit: number;
}

export const jsonBudget = (limit = MAX_JSON_VALUES): JsonBudget => ({ values: limit, limit });

const canonicalCache = new WeakMap<Uint8Array, string>();

/**
 * The canonical form of one structured file of a bundle, computed once per file: the signature check hashes
 * it and the loader parses it, so what is loaded is by construction what the signer's digest covers (a lone
 * surrogate escape is U+FFFD in both, as in OPA; a repeated key is its last value in both).
 */
export function canonicalFile(bytes: Uint8Array, budget: JsonBudget): string {
  const hit = canonicalCache.get(bytes);
  if (hit !== undefined) return hit;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  const out = canonicalJson(text, budget);
  canonicalCache.set(bytes, out);
  return out;
}

/** JSON.parse within a budget: refused before it allocates, when the text holds too many values or nests too deep. */
export function parseBounded(text: string, budget: JsonBudget = jsonBudget()): unknown {
  return JSON.parse(canonicalJson(text, budget));
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const SIMPLE_ESCAPES = '"\\/bfnrt';

class Parser {
  i = 0;
  depth = 0;
  constructor(
    readonly s: string,
    readonly budget: JsonBudget,
  ) {}

  fail(what: string): never {
    throw new RegateError("BUNDLE_INVALID", `structured bundle file is not valid JSON (${what} at offset ${this.i})`);
  }

  ws(): void {
    for (let c = this.s.charCodeAt(this.i); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = this.s.charCodeAt(++this.i));
  }

  value(): string {
    if (--this.budget.values < 0) {
      throw new RegateError("BUNDLE_INVALID", `bundle JSON holds more than ${this.budget.limit} JSON values (the most a bundle may hold)`);
    }
    const c = this.s[this.i];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return goString(this.string());
    for (const lit of LITERALS) {
      if (c === lit[0] && this.s.startsWith(lit, this.i)) {
        this.i += lit.length;
        return lit;
      }
    }
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) this.fail("unexpected character");
    this.i += m[0].length;
    return m[0];
  }

  /**
   * Scanned by hand, not by a regular expression: a backtracking match over a string of megabytes (a signature's
   * payload, a long value in data.json) overflows the regex engine's stack.
   */
  string(): string {
    const start = this.i;
    let i = start + 1;
    let escaped = false;
    for (;;) {
      const c = this.s.charCodeAt(i);
      if (c === 0x22) break;
      if (Number.isNaN(c) || c < 0x20) this.fail("bad string");
      if (c === 0x5c) {
        escaped = true;
        const e = this.s[i + 1];
        if (e === "u" && HEX4.test(this.s.slice(i + 2, i + 6))) i += 6;
        else if (e !== undefined && SIMPLE_ESCAPES.includes(e)) i += 2;
        else this.fail("bad escape");
        continue;
      }
      i++;
    }
    this.i = i + 1;
    const raw = this.s.slice(start, i + 1);
    // Most strings hold no escape: their text is their value. A lone surrogate (only an escape can make one) is
    // U+FFFD, as Go decodes it: in keys too, before they are compared.
    return escaped ? (JSON.parse(raw) as string).replace(LONE_SURROGATE, "\ufffd") : raw.slice(1, -1);
  }

  nest(): void {
    if (++this.depth > MAX_JSON_DEPTH) throw new RegateError("BUNDLE_INVALID", `bundle JSON is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }

  object(): string {
    this.nest();
    this.i++;
    const members = new Map<string, string>(); // a repeated key: the last one wins, as in Go
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      this.depth--;
      return "{}";
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail("expected a key");
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ":") this.fail("expected ':'");
      this.i++;
      this.ws();
      members.set(key, this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === "}") break;
      if (c !== ",") this.fail("expected ',' or '}'");
    }
    this.depth--;
    const keys = [...members.keys()];
    // Without a surrogate pair in any key, the order of UTF-16 units is that of code points: the native sort.
    if (keys.some((k) => SURROGATE.test(k))) keys.sort(byUtf8);
    else keys.sort();
    return `{${keys.map((k) => `${goString(k)}:${members.get(k)!}`).join(",")}}`;
  }

  array(): string {
    this.nest();
    this.i++;
    const items: string[] = [];
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      this.depth--;
      return "[]";
    }
    for (;;) {
      this.ws();
      items.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === "]") break;
      if (c !== ",") this.fail("expected ',' or ']'");
    }
    this.depth--;
    return `[${items.join(",")}]`;
  }
}

/** In a `u` regex a pair is one code point, so this matches only a surrogate that is not part of one. */
const LONE_SURROGATE = /[\ud800-\udfff]/gu;
const SURROGATE = /[\ud800-\udfff]/;
const LITERALS = ["true", "false", "null"] as const;

/**
 * Order of UTF-8 bytes, which is the order of code points. It differs from JavaScript's order of UTF-16 units
 * only where a surrogate meets a character from U+E000 to U+FFFF: compared by code point there.
 */
function byUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) return (a.codePointAt(i) ?? x) - (b.codePointAt(i) ?? y);
    return x - y;
  }
  return a.length - b.length;
}

/** Characters Go writes differently from how they stand: quote, backslash, controls, U+2028/9, surrogates. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029\ud800-\udfff]/;

const SHORT_ESCAPES: Record<number, string> = { 0x08: "\\b", 0x09: "\\t", 0x0a: "\\n", 0x0c: "\\f", 0x0d: "\\r", 0x22: '\\"', 0x5c: "\\\\" };

/** A string as Go's encoding/json writes it with SetEscapeHTML(false). */
export function goString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const short = SHORT_ESCAPES[c];
    if (short) out += short;
    else if (c < 0x20 || c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else if (c >= 0xd800 && c <= 0xdfff) out += "\ufffd"; // a lone surrogate: Go decodes it as U+FFFD
    else out += ch;
  }
  return `${out}"`;
}
