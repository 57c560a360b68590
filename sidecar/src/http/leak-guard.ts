// The second look scrub.ts takes at a response: the byte search finds the credential as written, this finds it
// as a client would read it once decoded (leak-view.ts) and joined: the data of server-sent events, and the
// pieces of JSON documents an agent concatenates (leak-joins.ts). What spells it is overwritten ("*" each).
// Bodies stream through it, each byte read once; only what could still turn into the credential is held back.

import { HeldBytes } from "./leak-held.js";
import { JOINED_HEX, JOINED_TEXT, JsonJoins } from "./leak-joins.js";
import type { Needles } from "./leak-match.js";
import { ViewLayer, type ViewSink } from "./leak-view.js";

/**
 * Bytes held back at most. A candidate waits for what decides it however much whitespace or other text comes
 * between (neither lengthens a spelling: the view drops it), but memory is bounded: past this, the held bytes
 * go out, a candidate of JOINED_TEXT bytes or more overwritten first (the rest of it is overwritten if it
 * completes later), a shorter one as it is.
 */
export const MAX_HELD = 64 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const EMPTY = Buffer.alloc(0);

const LETTER = new Uint8Array(256);
for (let i = 0; i < 26; i++) LETTER[0x41 + i] = LETTER[0x61 + i] = 1;

/** What an event-stream line is: still reading a field name, data, or another field (or a comment). */
const NAME = 0;
const DATA = 1;
const OTHER = 2;

/** The decoded check over a stream: feed chunks with `write`, then `end`; each returns what may go out. */
export class LeakGuard implements ViewSink {
  readonly #sse: boolean;
  readonly #bytes = new HeldBytes();
  /** Everything, as a client reads it (for an event stream: the values of every line, joined). */
  readonly #main: ViewLayer;
  /** Event streams: the data lines alone, joined across events as a client joins them (made when needed). */
  #data: ViewLayer | undefined;
  #readData = false;
  /** The JSON a body or the data of an event carries, joined as an agent joins it. */
  readonly #joins: JsonJoins;
  /** Event-stream lines. */
  #line = NAME;
  readonly #name: Uint8Array;
  #nameLength = 0;
  #nameAt = 0;
  #skipSpace = false;
  #afterCr = false;
  /** Bytes before this went out under MAX_HELD: candidates that started earlier hold no more of them. */
  #floor = 0;
  #scrubbing = false;
  /** Set when a form of the credential was overwritten. */
  found = false;

  constructor(needles: Needles, sse: boolean) {
    this.#sse = sse;
    this.#name = sse ? new Uint8Array(33) : EMPTY;
    this.#main = new ViewLayer(needles, this);
    this.#joins = new JsonJoins(needles, this, this.#main, (start, end) => this.#bytes.overwrite(start, end, sse));
  }

  /** Bytes held back now: never more than MAX_HELD once a write returns. */
  get held(): number {
    return this.#bytes.end - this.#bytes.released;
  }

  write(chunk: Buffer): Buffer {
    this.#read(chunk);
    return this.#release();
  }

  /** The last chunk; the guard is not used again. */
  end(chunk: Buffer = EMPTY): Buffer {
    this.#read(chunk);
    if (this.#sse && this.#line === NAME) this.#nameAsText();
    this.#main.end();
    this.#joins.end();
    this.#data?.end();
    const out = this.#bytes.release(this.#bytes.end);
    this.#main.release();
    this.#data?.release();
    this.#joins.release();
    return out;
  }

  /**
   * Everything held goes out now (the stream went quiet, and the bytes that would decide a candidate may
   * never come): as past MAX_HELD, a candidate of JOINED_TEXT bytes or more is overwritten first, and the
   * rest of any candidate is overwritten if it completes later.
   */
  flush(chunk: Buffer = EMPTY): Buffer {
    this.#read(chunk);
    const end = this.#bytes.end;
    if (end === this.#bytes.released) return EMPTY;
    this.#scrubBefore(end);
    this.#floor = end;
    return this.#bytes.release(end);
  }

  overwrite(start: number, end: number): void {
    if (!this.#scrubbing) this.found = true;
    this.#bytes.overwrite(start, end, this.#sse);
  }

  #read(chunk: Buffer): void {
    const base = this.#bytes.end;
    this.#bytes.append(chunk);
    if (this.#sse) this.#readEvents(chunk, base);
    else this.#readValue(chunk, 0, chunk.length, base, true);
  }

  /** What may go out now: everything before the earliest candidate, and never less than all but MAX_HELD. */
  #release(): Buffer {
    const end = this.#bytes.end;
    let hold = Math.min(end, Math.max(this.#holdFrom(), this.#floor, this.#bytes.released));
    if (end - hold > MAX_HELD) {
      hold = end - MAX_HELD;
      this.#scrubBefore(hold);
      this.#floor = hold;
    }
    return this.#bytes.release(hold);
  }

  #holdFrom(): number {
    let at = Math.min(this.#main.holdFrom(1, 1), this.#joins.holdFrom());
    if (this.#data) at = Math.min(at, this.#data.holdFrom(1, 1));
    if (this.#sse && this.#line === NAME && this.#nameLength > 0) at = Math.min(at, this.#nameAt);
    return at;
  }

  /** Candidates that must go out unfinished: the long ones are overwritten first. */
  #scrubBefore(before: number): void {
    this.#scrubbing = true;
    this.#main.scrubCandidates(JOINED_TEXT, JOINED_HEX, before);
    this.#data?.scrubCandidates(JOINED_TEXT, JOINED_HEX, before);
    this.#joins.scrubBefore(before);
    this.#scrubbing = false;
  }

  /** An event stream: field names are dropped, data lines also go to their own join and to the JSON reader. */
  #readEvents(buf: Buffer, base: number): void {
    let i = 0;
    let lf = -1;
    let cr = -1;
    while (i < buf.length) {
      const c = buf[i]!;
      if (this.#afterCr) {
        this.#afterCr = false;
        if (c === LF) {
          i++;
          continue;
        }
      }
      if (this.#line === NAME) {
        if (LETTER[c] === 1 && this.#nameLength < 32) {
          if (this.#nameLength === 0) this.#nameAt = base + i;
          this.#name[this.#nameLength++] = c;
          i++;
          continue;
        }
        if (c === COLON) {
          this.#line = this.#nameLength === 4 && this.#name[0] === 0x64 && this.#name[1] === 0x61 && this.#name[2] === 0x74 && this.#name[3] === 0x61 ? DATA : OTHER;
          this.#nameLength = 0;
          this.#skipSpace = true;
          if (this.#line === DATA) this.#readData = this.#data !== undefined && !this.#data.clean;
          i++;
          continue;
        }
        if (c === LF || c === CR) {
          // A blank line ends an event: its data was one document, the next starts afresh.
          if (this.#nameLength === 0) this.#eventEnd();
          else this.#nameAsText();
          this.#afterCr = c === CR;
          i++;
          continue;
        }
        // Not a field name: the line is text.
        this.#nameAsText();
        this.#line = OTHER;
      }
      if (this.#skipSpace) {
        this.#skipSpace = false;
        if (c === SPACE) {
          i++;
          continue;
        }
      }
      // The rest of the line, up to its break (the searches are remembered: one pass over the chunk each).
      if (lf < i) lf = indexOrEnd(buf, LF, i);
      if (cr < i) cr = indexOrEnd(buf, CR, i);
      const j = Math.min(lf, cr);
      this.#readValue(buf, i, j, base, this.#line === DATA);
      if (j >= buf.length) break;
      if (this.#line === DATA) this.#dataLineEnd();
      this.#line = NAME;
      this.#afterCr = buf[j] === CR;
      i = j + 1;
    }
  }

  /** A line that was only letters: a client reads it as a field without value; the letters are text to us. */
  #nameAsText(): void {
    for (let k = 0; k < this.#nameLength; k++) this.#main.feed(this.#name[k]!, this.#nameAt + k, this.#nameAt + k + 1);
    this.#nameLength = 0;
  }

  #eventEnd(): void {
    this.#joins.eventEnd();
  }

  #dataLineEnd(): void {
    if (!this.#readData) this.#data = this.#main.carryInto(this.#data);
    this.#readData = false;
    // The data lines of an event are joined with a line break: for the JSON reader, it ends a number or
    // (a line break cannot be in a JSON string) a string.
    this.#joins.lineBreak();
  }

  /** Bytes [i, end) of a body, or of an event-stream line's value; `json`: the JSON joins read them too. */
  #readValue(buf: Buffer, i: number, end: number, base: number, json: boolean): void {
    if (this.#readData && this.#data!.feedUntilClean(buf, i, end, base) < end) this.#readData = false;
    if (json) this.#joins.read(buf, i, end, base);
    else this.#main.feedRun(buf, i, end, base);
  }
}

function indexOrEnd(buf: Buffer, c: number, from: number): number {
  const at = buf.indexOf(c, from);
  return at < 0 ? buf.length : at;
}

/** One whole buffer through a guard: the buffer, or a copy with every form found overwritten. */
export function scanWhole(buf: Buffer, needles: Needles, sse: boolean): { out: Buffer; found: boolean } {
  const g = new LeakGuard(needles, sse);
  const out = g.end(buf);
  return { out, found: g.found };
}
