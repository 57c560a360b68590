// regate's route credential never goes back to the agent. An upstream may echo it (a debug endpoint, an
// error page that prints the request, a token in a redirect): every form regate can name is replaced in
// response headers and bodies, streamed bodies included, before the agent sees a byte.

import { Transform, type TransformCallback } from "node:stream";
import type { OutgoingHttpHeaders } from "node:http";

export const SCRUBBED = "[REDACTED]";
const SCRUBBED_BYTES = Buffer.from(SCRUBBED);
/** Same-length replacement byte: the body keeps its Content-Length, so it can stream without re-framing. */
const FILLER = 0x2a;
/** Shorter forms are not searched for: too many innocent bytes would match (config demands longer secrets in practice). */
const MIN_NEEDLE = 4;

/**
 * The byte strings that give a secret away: the secret itself, its JSON-escaped and percent-encoded forms,
 * and its standard and URL-safe base64 at each of the three alignments it can have inside a longer base64
 * text (only the characters that depend on the secret alone, so a token inside a base64 blob is found too).
 */
export function secretForms(secrets: readonly string[]): Buffer[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s === "") continue;
    forms.add(s);
    const json = JSON.stringify(s).slice(1, -1);
    forms.add(json);
    // PHP and some Java encoders also escape "/".
    forms.add(json.replace(/\//g, "\\/"));
    forms.add(encodeURIComponent(s));
    const bytes = Buffer.from(s, "utf8");
    for (let pad = 0; pad < 3; pad++) {
      const b64 = Buffer.concat([Buffer.alloc(pad, 0x41), bytes]).toString("base64");
      const core = b64.slice(Math.ceil((8 * pad) / 6), Math.floor((8 * (pad + bytes.length)) / 6));
      forms.add(core);
      forms.add(core.replace(/\+/g, "-").replace(/\//g, "_"));
    }
  }
  return [...forms].filter((f) => f.length >= MIN_NEEDLE).map((f) => Buffer.from(f, "utf8"));
}

/** The secrets of a route: the whole credential, and for basic credentials the password alone as well. */
export function routeSecrets(credential: { type: string; value: string } | undefined): string[] {
  if (!credential) return [];
  if (credential.type !== "basic") return [credential.value];
  const colon = credential.value.indexOf(":");
  const password = credential.value.slice(colon + 1);
  return password === "" ? [credential.value] : [credential.value, password];
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

/** A whole body with every form of the secrets replaced. */
export function scrubBuffer(body: Buffer, needles: readonly Buffer[]): Buffer {
  return needles.length === 0 ? body : replaceAll(body, needles).out;
}

/** Header values with every form of the secrets replaced (in place); true when something was. */
export function scrubHeaders(headers: OutgoingHttpHeaders, needles: readonly Buffer[]): boolean {
  if (needles.length === 0) return false;
  const strings = needles.map((n) => n.toString("utf8"));
  let found = false;
  const clean = (v: string): string => {
    let out = v;
    for (const s of strings) if (out.includes(s)) out = out.split(s).join(SCRUBBED);
    if (out !== v) found = true;
    return out;
  };
  for (const [name, value] of Object.entries(headers)) {
    if (strings.some((s) => name.includes(s.toLowerCase()))) {
      // A header named after the secret cannot be renamed meaningfully: it goes.
      delete headers[name];
      found = true;
      continue;
    }
    if (typeof value === "string") headers[name] = clean(value);
    else if (Array.isArray(value)) headers[name] = value.map(clean);
  }
  return found;
}

/**
 * Streams a body through with every form of the secrets replaced. A chunk's tail that could be the start of
 * a secret is held back until the next chunk decides it, and only that: other bytes are not delayed, so
 * event streams keep flowing. (A held-back tail is at most one byte shorter than the longest form.)
 */
export class SecretScrubber extends Transform {
  readonly #needles: readonly Buffer[];
  readonly #sameLength: boolean;
  #carry: Buffer | undefined;
  /** Set when at least one secret was replaced. */
  found = false;

  /** `sameLength`: replace each form by as many "*" as it has bytes (Content-Length stays true). */
  constructor(needles: readonly Buffer[], sameLength = false) {
    super();
    this.#needles = needles;
    this.#sameLength = sameLength;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const buf = this.#carry ? Buffer.concat([this.#carry, chunk]) : chunk;
    this.#carry = undefined;
    const r = replaceAll(buf, this.#needles, this.#sameLength);
    if (r.found) this.found = true;
    const hold = this.#prefixAtEnd(r.out, r.tail);
    if (hold > 0) this.#carry = Buffer.from(r.out.subarray(r.out.length - hold));
    if (r.out.length - hold > 0) this.push(r.out.subarray(0, r.out.length - hold));
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.#carry) this.push(this.#carry);
    this.#carry = undefined;
    done();
  }

  /** Length of the longest suffix of `buf` (after `from`) that is a proper prefix of some needle. */
  #prefixAtEnd(buf: Buffer, from: number): number {
    let best = 0;
    for (const n of this.#needles) {
      const max = Math.min(n.length - 1, buf.length - from);
      for (let len = max; len > best; len--) {
        if (buf.compare(n, 0, len, buf.length - len, buf.length) === 0) {
          best = len;
          break;
        }
      }
    }
    return best;
  }
}
