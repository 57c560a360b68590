// The second look scrub.ts takes at a response: the byte search finds the credential as written, this finds it
// as a client would read it once decoded (leak-view.ts), and overwrites the bytes that spell it ("*" each).
// Bodies stream through it: only a tail that could still turn into the credential is held back.

import { decodeView, isSpace, needsView, type View } from "./leak-view.js";

const STAR = 0x2a;
/** Decoding passes at most: a value percent-encoded inside a JSON string inside a percent-encoded URL. */
const MAX_LAYERS = 3;

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

export interface Scan {
  /** The input, or a copy of it with the credential's bytes overwritten. */
  out: Buffer;
  /** Bytes before this may go out; from here on they wait for more input. */
  hold: number;
  found: boolean;
}

/**
 * Finds every needle in the decoded views of `buf` and overwrites its source bytes. `force` takes the decoded
 * path even when the cheap check says the bytes need no decoding (the previous chunk's tail is in `buf`).
 */
export function scanForLeaks(buf: Buffer, needles: readonly Buffer[], o: { sse: boolean; lineStart: boolean; final: boolean; force: boolean }): Scan {
  if (needles.length === 0) return { out: buf, hold: buf.length, found: false };
  if (!o.sse && !o.force && !needsView(buf)) {
    // Every needle is also a byte-search form, so none is here; only the tail may start one. Whitespace after
    // it does not end it: base64 goes on after a line break.
    if (o.final) return { out: buf, hold: buf.length, found: false };
    let end = buf.length;
    while (end > 0 && isSpace(buf[end - 1]!)) end--;
    const at = prefixStart(buf, end, needles);
    return { out: buf, hold: at === end ? buf.length : at, found: false };
  }
  const layers: View[] = [];
  let input: Uint8Array = buf;
  for (let k = 0; k < MAX_LAYERS; k++) {
    const v = decodeView(input, { sse: o.sse && k === 0, lineStart: k === 0 ? o.lineStart : true, final: o.final });
    layers.push(v);
    if (!v.decoded || !hasEscape(v)) break;
    input = v.bytes.subarray(0, v.length);
  }
  /** The input position where byte `idx` of layer `k` (or, at its length, its undecoded tail) starts. */
  const source = (k: number, idx: number): number => {
    const v = layers[k]!;
    const p = idx < v.length ? v.from[idx]! : v.pending;
    return k === 0 ? p : source(k - 1, p);
  };
  let out = buf;
  let found = false;
  const overwrite = (k: number, a: number, b: number): void => {
    const v = layers[k]!;
    for (let q = a; q < b; q++) {
      const s = v.from[q]!;
      const e = s + (v.span[q] || 1);
      if (k === 0) out.fill(STAR, s, e);
      else overwrite(k - 1, s, e);
    }
  };
  let hold = buf.length;
  for (let k = 0; k < layers.length; k++) {
    const v = layers[k]!;
    const view = v.bytes.subarray(0, v.length);
    for (const n of needles) {
      for (let at = view.indexOf(n); at >= 0; at = view.indexOf(n, at + n.length)) {
        if (!found) out = Buffer.from(buf);
        found = true;
        overwrite(k, at, at + n.length);
      }
    }
    if (!o.final) {
      hold = Math.min(hold, source(k, v.length));
      const at = prefixStart(v.bytes, v.length, needles);
      if (at < v.length) hold = Math.min(hold, source(k, at));
    }
  }
  return { out, hold, found };
}

/** Whether a view holds a character that a further decoding pass would act on. */
function hasEscape(v: View): boolean {
  const b = v.bytes.subarray(0, v.length);
  return b.indexOf(0x5c) >= 0 || b.indexOf(0x25) >= 0 || b.indexOf(0x26) >= 0;
}

/** The decoded check over a stream: feed chunks with `write`, then `end`; each returns what may go out. */
export class LeakGuard {
  readonly #needles: readonly Buffer[];
  readonly #sse: boolean;
  #carry: Buffer | undefined;
  #lineStart = true;
  /** Set when a form of the credential was overwritten. */
  found = false;

  constructor(needles: readonly Buffer[], sse: boolean) {
    this.#needles = needles;
    this.#sse = sse;
  }

  write(chunk: Buffer): Buffer {
    return this.#scan(chunk, false);
  }

  end(chunk: Buffer = Buffer.alloc(0)): Buffer {
    return this.#scan(chunk, true);
  }

  #scan(chunk: Buffer, final: boolean): Buffer {
    const carried = this.#carry !== undefined;
    const buf = this.#carry ? (chunk.length > 0 ? Buffer.concat([this.#carry, chunk]) : this.#carry) : chunk;
    this.#carry = undefined;
    if (buf.length === 0) return buf;
    const r = scanForLeaks(buf, this.#needles, { sse: this.#sse, lineStart: this.#lineStart, final, force: carried });
    if (r.found) this.found = true;
    if (r.hold < r.out.length) {
      this.#carry = Buffer.from(r.out.subarray(r.hold));
      if (r.hold > 0) this.#lineStart = isLineEnd(r.out[r.hold - 1]!);
    } else {
      this.#lineStart = isLineEnd(r.out[r.out.length - 1]!);
    }
    return r.out.subarray(0, r.hold);
  }
}

function isLineEnd(c: number): boolean {
  return c === 0x0a || c === 0x0d;
}
