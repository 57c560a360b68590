// regate's route credential never goes back to the agent. An upstream may echo it (a debug endpoint, an
// error page that prints the request, a token in a redirect): every form regate can name is replaced in
// response headers and bodies, streamed bodies included, before the agent sees a byte. Two looks: a byte
// search for the forms as written (here), then the same forms in the text a client reads once it decodes
// escapes, unwraps base64, reads hex and joins events and JSON values (leak-guard.ts), overwritten where they
// were spelled.

import { Transform, type TransformCallback } from "node:stream";
import type { OutgoingHttpHeaders } from "node:http";
import { scrubHeaderJoins } from "./header-joins.js";
import { LeakGuard, scanWhole } from "./leak-guard.js";
import { compileNeedles, type Needles } from "./leak-match.js";

export const SCRUBBED = "[REDACTED]";
const SCRUBBED_BYTES = Buffer.from(SCRUBBED);
/** Same-length replacement byte: the body keeps its Content-Length, so it can stream without re-framing. */
const FILLER = 0x2a;
/** Shorter forms are not searched for: too many innocent bytes would match (config demands longer secrets in practice). */
const MIN_NEEDLE = 4;

/** The characters of base64 text that depend on `text` alone, at each of the three alignments it can have. */
function base64Cores(text: string): string[] {
  const bytes = Buffer.from(text, "utf8");
  const cores: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad, 0x41), bytes]).toString("base64");
    const core = b64.slice(Math.ceil((8 * pad) / 6), Math.floor((8 * (pad + bytes.length)) / 6));
    cores.push(core, core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return cores;
}

/**
 * What a client reads once it has decoded escapes, unwrapped lines and joined events (leak-view.ts): the
 * secret (without whitespace, which the view drops), the base64 of the secret and of its JSON-escaped and
 * percent-encoded spellings (a base64 blob of a URL or a JSON document), and, read in either case and across
 * separators, its hex (and the secret itself when it is hex: an agent can change its case).
 */
function decodedForms(s: string): { text: string[]; hex: string[] } {
  const json = JSON.stringify(s).slice(1, -1);
  const hex = [Buffer.from(s, "utf8").toString("hex")];
  if (/^[0-9a-f]+$/i.test(s)) hex.push(s);
  return { text: [...softBreakForms(s.replace(/\s+/g, "")), ...new Set([s, json, encodeURIComponent(s)].flatMap(base64Cores))], hex };
}

/** A secret's "="s, at most, whose every drop is a form (softBreakForms); past it, all of them dropped at once. */
const SOFT_BREAK_EQUALS = 3;

/**
 * The secret, and when it has "="s (base64 padding), the secret without some of them: the view reads an "="
 * that ends a line as a quoted-printable soft line break and drops it (leak-escapes.ts), so a secret wrapped
 * just after its own "=" (`abc=` then a line break) reads as `abc` there.
 */
function softBreakForms(s: string): string[] {
  const at: number[] = [];
  for (let i = s.indexOf("="); i >= 0; i = s.indexOf("=", i + 1)) at.push(i);
  if (at.length === 0) return [s];
  const out = new Set([s, s.replace(/=/g, "")]);
  if (at.length <= SOFT_BREAK_EQUALS) {
    for (let mask = 1; mask < 1 << at.length; mask++) out.add(s.split("").filter((_, i) => !at.some((p, k) => p === i && (mask >> k) & 1)).join(""));
  }
  return [...out];
}

/** For each array secretForms returned, the forms the decoded check looks for. */
const DECODED = new WeakMap<readonly Buffer[], Needles>();

const toBuffers = (forms: Iterable<string>): Buffer[] => [...forms].filter((f) => f.length >= MIN_NEEDLE).map((f) => Buffer.from(f, "utf8"));

/**
 * The byte strings that give a secret away as written: the secret itself, its JSON-escaped and
 * percent-encoded forms, its hex in either case, its base64 and its UTF-16 bytes. The forms the decoded check looks for travel
 * with the array (decodedNeedles).
 */
export function secretForms(secrets: readonly string[]): Buffer[] {
  const forms = new Set<string>();
  const text = new Set<string>();
  const hex = new Set<string>();
  for (const s of secrets) {
    if (s === "") continue;
    forms.add(s);
    const json = JSON.stringify(s).slice(1, -1);
    forms.add(json);
    // PHP and some Java encoders also escape "/".
    forms.add(json.replace(/\//g, "\\/"));
    forms.add(encodeURIComponent(s));
    const d = decodedForms(s);
    for (const f of d.text) {
      forms.add(f);
      text.add(f);
    }
    // Its bytes as decimal numbers: how Node serialises a Buffer ({"type":"Buffer","data":[...]}), which
    // Express and Fastify send for a request head or header an upstream echoes as bytes. The view drops the
    // whitespace a pretty-printer puts between them.
    const decimal = [...Buffer.from(s, "utf8")].join(",");
    forms.add(decimal);
    text.add(decimal);
    for (const f of d.hex) {
      forms.add(f.toLowerCase());
      forms.add(f.toUpperCase());
      hex.add(f.toLowerCase());
    }
  }
  const out = toBuffers(forms);
  // The secret's UTF-16 bytes either way round: a body as a whole in UTF-16 is refused (charset.ts), but
  // a dump of a string's bytes may put them inside UTF-8 text, where an agent only has to drop the NULs.
  for (const s of secrets) {
    if (s.length < MIN_NEEDLE) continue;
    const le = Buffer.from(s, "utf16le");
    out.push(le, Buffer.from(le).swap16());
  }
  DECODED.set(out, compileNeedles(toBuffers(text), toBuffers(hex)));
  return out;
}

/**
 * The forms the decoded check looks for, given what secretForms returned, compiled. For an array it did not
 * make, the byte forms themselves, as written: a stricter search, never a weaker one.
 */
export function decodedNeedles(forms: readonly Buffer[]): Needles {
  let n = DECODED.get(forms);
  if (!n) {
    n = compileNeedles(forms, []);
    DECODED.set(forms, n);
  }
  return n;
}

/** The secrets of a route: the whole credential, and for basic credentials the password alone as well. */
export function routeSecrets(credential: { type: string; value: string } | undefined): string[] {
  if (!credential) return [];
  if (credential.type !== "basic") return [credential.value];
  const colon = credential.value.indexOf(":");
  const password = credential.value.slice(colon + 1);
  return password === "" ? [credential.value] : [credential.value, password];
}

/**
 * Where the longest suffix of `buf[from, end)` that is a proper prefix of a needle starts (`end` when none).
 * Only positions holding a needle's first byte are compared, so this costs a few native searches, not a
 * comparison per needle and length.
 */
export function prefixStart(buf: Buffer, end: number, needles: readonly Buffer[], from = 0): number {
  const b = buf.subarray(0, end);
  let best = end;
  for (const n of needles) {
    let i = Math.max(from, end - (n.length - 1));
    while (i < best) {
      i = b.indexOf(n[0]!, i);
      if (i < 0 || i >= best) break;
      if (b.compare(n, 0, end - i, i, end) === 0) {
        best = i;
        break;
      }
      i++;
    }
  }
  return best;
}

/** `buf` with every needle replaced, and the offset after the last replacement (0 when none). */
function replaceAll(buf: Buffer, needles: readonly Buffer[], sameLength = false): { out: Buffer; found: boolean; tail: number } {
  let parts: Buffer[] | undefined;
  let pos = 0;
  for (;;) {
    let at = -1;
    let len = 0;
    for (const n of needles) {
      const i = buf.indexOf(n, pos);
      if (i >= 0 && (at < 0 || i < at || (i === at && n.length > len))) {
        at = i;
        len = n.length;
      }
    }
    if (at < 0) break;
    (parts ??= []).push(buf.subarray(pos, at), sameLength ? Buffer.alloc(len, FILLER) : SCRUBBED_BYTES);
    pos = at + len;
  }
  if (!parts) return { out: buf, found: false, tail: 0 };
  parts.push(buf.subarray(pos));
  const out = Buffer.concat(parts);
  return { out, found: true, tail: out.length - (buf.length - pos) };
}

export interface ScrubOptions {
  /** The body is a text/event-stream: a secret cut across events or data lines is found too. */
  readonly sse?: boolean;
}

/** A whole body with every form of the secrets replaced. */
export function scrubBuffer(body: Buffer, needles: readonly Buffer[], o: ScrubOptions = {}): Buffer {
  if (needles.length === 0) return body;
  const plain = replaceAll(body, needles).out;
  return scanWhole(plain, decodedNeedles(needles), o.sse ?? false).out;
}

/**
 * Header values with every form of the secrets replaced (in place); true when something was. A header whose
 * name holds a form is dropped (it cannot be renamed meaningfully). Then the decoded check, over names and
 * values joined as an agent could join them (header-joins.ts).
 */
export function scrubHeaders(headers: OutgoingHttpHeaders, needles: readonly Buffer[]): boolean {
  if (needles.length === 0) return false;
  const strings = needles.map((n) => n.toString("utf8"));
  let found = false;
  for (const [name, value] of Object.entries(headers)) {
    if (strings.some((s) => name.includes(s.toLowerCase()))) {
      delete headers[name];
      found = true;
      continue;
    }
    const clean = (v: string): string => {
      let out = v;
      for (const s of strings) if (out.includes(s)) out = out.split(s).join(SCRUBBED);
      if (out !== v) found = true;
      return out;
    };
    if (typeof value === "string") headers[name] = clean(value);
    else if (Array.isArray(value)) headers[name] = value.map(clean);
  }
  return scrubHeaderJoins(headers, decodedNeedles(needles)) || found;
}

/**
 * A body fed in chunks with every form of the secrets replaced: what may go out after each chunk. A chunk's
 * tail that could be the start of a secret is held back until the next chunk decides it, and only that:
 * other bytes are not delayed, so event streams keep flowing. (A held-back tail is at most one byte shorter
 * than the longest form, plus an unfinished escape and the whitespace after it, and never more than MAX_HELD
 * bytes in all; in an event stream, an event whose data ends in what could start a form waits for the next
 * event.)
 */
export class ChunkScrubber {
  readonly #needles: readonly Buffer[];
  readonly #sameLength: boolean;
  readonly #guard: LeakGuard;
  #carry: Buffer | undefined;
  #found = false;

  /**
   * `sameLength`: replace each form by as many "*" as it has bytes (Content-Length stays true); decoded
   * forms are always overwritten that way.
   */
  constructor(needles: readonly Buffer[], sameLength = false, o: ScrubOptions = {}) {
    this.#needles = needles;
    this.#sameLength = sameLength;
    this.#guard = new LeakGuard(decodedNeedles(needles), o.sse ?? false);
  }

  /** Set when at least one secret was replaced. */
  get found(): boolean {
    return this.#found || this.#guard.found;
  }

  write(chunk: Buffer): Buffer {
    const buf = this.#carry ? Buffer.concat([this.#carry, chunk]) : chunk;
    this.#carry = undefined;
    const r = replaceAll(buf, this.#needles, this.#sameLength);
    if (r.found) this.#found = true;
    const hold = r.out.length - prefixStart(r.out, r.out.length, this.#needles, r.tail);
    if (hold > 0) this.#carry = Buffer.from(r.out.subarray(r.out.length - hold));
    return this.#guard.write(r.out.subarray(0, r.out.length - hold));
  }

  /** The rest; the scrubber is not used again. */
  end(): Buffer {
    const out = this.#guard.end(this.#carry);
    this.#carry = undefined;
    return out;
  }
}

/** Streams a body through a ChunkScrubber. */
export class SecretScrubber extends Transform {
  readonly #scrubber: ChunkScrubber;

  /** As ChunkScrubber's. */
  constructor(needles: readonly Buffer[], sameLength = false, o: ScrubOptions = {}) {
    super();
    this.#scrubber = new ChunkScrubber(needles, sameLength, o);
  }

  /** Set when at least one secret was replaced. */
  get found(): boolean {
    return this.#scrubber.found;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out = this.#scrubber.write(chunk);
    if (out.length > 0) this.push(out);
    done();
  }

  override _flush(done: TransformCallback): void {
    const out = this.#scrubber.end();
    if (out.length > 0) this.push(out);
    done();
  }
}
