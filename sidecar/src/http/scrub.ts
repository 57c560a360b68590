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
import { decodedNeedles } from "./leak-forms.js";
import type { Needles } from "./leak-match.js";

export { decodedNeedles, routeSecrets, secretForms } from "./leak-forms.js";

export const SCRUBBED = "[REDACTED]";
const SCRUBBED_BYTES = Buffer.from(SCRUBBED);
/** Same-length replacement byte: the body keeps its Content-Length, so it can stream without re-framing. */
const FILLER = 0x2a;

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
  /** SecretScrubber of an event stream: how long held bytes wait for more before they go out (flush). */
  readonly holdMs?: number;
}

/**
 * An event stream goes quiet between events (an MCP HTTP+SSE stream right after its `endpoint` event, until
 * the agent posts a call), and an event whose data ends in what could start a form would wait for the next
 * one: the agent would never read the session id it must post to. Held bytes wait this long at most.
 */
export const SSE_HOLD_MS = 1000;

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
  const decoded = decodedNeedles(needles);
  const whole = scrubWholeValues(headers, decoded);
  return scrubHeaderJoins(headers, decoded) || whole || found;
}

/**
 * Each header value read whole, as text (the joins read it cut at its commas, as list elements): a
 * Uint8Array's JSON or a byte list in one value has commas between the bytes. Values are read one after
 * another in one pass, a line break between them; what spells a form becomes "*" in place. True when
 * something did.
 */
function scrubWholeValues(headers: OutgoingHttpHeaders, needles: Needles): boolean {
  const values: [name: string, index: number, at: number][] = [];
  let text = "";
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== "string" && !Array.isArray(value)) continue;
    for (const [index, v] of [value].flat().entries()) {
      values.push([name, index, text.length]);
      text += `${v}\n`;
    }
  }
  // Node reads header bytes as latin1: one byte a character, so offsets are the same in both.
  const r = scanWhole(Buffer.from(text, "latin1"), needles, false);
  if (!r.found) return false;
  const out = r.out.toString("latin1");
  for (const [name, index, at] of values) {
    const value = headers[name] as string | string[];
    const list = [value].flat();
    const v = list[index]!;
    const scrubbed = out.slice(at, at + v.length);
    if (scrubbed === v) continue;
    list[index] = scrubbed;
    headers[name] = Array.isArray(value) ? list : scrubbed;
  }
  return true;
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

  /** Bytes held back now, waiting for what decides them. */
  get held(): number {
    return (this.#carry?.length ?? 0) + this.#guard.held;
  }

  /** What is held, out now (LeakGuard.flush); the scrubber goes on. */
  flush(): Buffer {
    const carry = this.#carry;
    this.#carry = undefined;
    return this.#guard.flush(carry);
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
  readonly #holdMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;

  /** As ChunkScrubber's; an event stream's held bytes go out after `o.holdMs` (SSE_HOLD_MS) without more. */
  constructor(needles: readonly Buffer[], sameLength = false, o: ScrubOptions = {}) {
    super();
    this.#scrubber = new ChunkScrubber(needles, sameLength, o);
    this.#holdMs = o.sse ? (o.holdMs ?? SSE_HOLD_MS) : undefined;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#holdMs === undefined || this.#scrubber.held === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.destroyed || this.writableEnded) return;
      const out = this.#scrubber.flush();
      if (out.length > 0) this.push(out);
    }, this.#holdMs);
    this.#timer.unref();
  }

  override _destroy(err: Error | null, done: (error: Error | null) => void): void {
    clearTimeout(this.#timer);
    done(err);
  }

  /** Set when at least one secret was replaced. */
  get found(): boolean {
    return this.#scrubber.found;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out = this.#scrubber.write(chunk);
    if (out.length > 0) this.push(out);
    this.#arm();
    done();
  }

  override _flush(done: TransformCallback): void {
    clearTimeout(this.#timer);
    const out = this.#scrubber.end();
    if (out.length > 0) this.push(out);
    done();
  }
}
