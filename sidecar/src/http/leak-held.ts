// The bytes of a response a guard has not let go yet, in the pieces they came in, addressed by their offset
// in the whole stream. A piece is passed through as it came unless something in it is overwritten (then it is
// copied first: a chunk may be shared).

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const STAR = 0x2a;
const EMPTY = Buffer.alloc(0);

const LETTER = new Uint8Array(256);
for (let i = 0; i < 26; i++) LETTER[0x41 + i] = LETTER[0x61 + i] = 1;
const BLANK = new Uint8Array(256);
for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]) BLANK[c] = 1;

export class HeldBytes {
  #parts: Buffer[] = [];
  #starts: number[] = [];
  #owned: boolean[] = [];
  #first = 0;
  #released = 0;
  #end = 0;

  /** Stream offset of the first byte not let go yet. */
  get released(): number {
    return this.#released;
  }

  /** Stream offset just past the last byte appended. */
  get end(): number {
    return this.#end;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#parts.push(chunk);
    this.#starts.push(this.#end);
    this.#owned.push(false);
    this.#end += chunk.length;
  }

  /**
   * Overwrites [start, end) with "*", except what no form is spelled with: whitespace, and in an event stream
   * the field names of lines the range crosses (a form read across events spans them).
   */
  overwrite(start: number, end: number, sse: boolean): void {
    let k = this.#first;
    let lineStart = false;
    for (let p = Math.max(start, this.#released); p < end; p++) {
      while (k < this.#parts.length && this.#starts[k]! + this.#parts[k]!.length <= p) k++;
      if (k >= this.#parts.length) return;
      const at = p - this.#starts[k]!;
      const c = this.#parts[k]![at]!;
      if (BLANK[c] === 1) {
        lineStart ||= c === LF || c === CR;
        continue;
      }
      if (lineStart && sse) {
        lineStart = false;
        let q = p;
        while (q < end && LETTER[this.#byteAt(q)] === 1) q++;
        if (q < end && this.#byteAt(q) === COLON) {
          p = q;
          continue;
        }
      }
      lineStart = false;
      if (!this.#owned[k]) {
        this.#parts[k] = Buffer.from(this.#parts[k]!);
        this.#owned[k] = true;
      }
      this.#parts[k]![at] = STAR;
    }
  }

  #byteAt(p: number): number {
    for (let k = this.#first; k < this.#parts.length; k++) {
      const s = this.#starts[k]!;
      if (p < s + this.#parts[k]!.length) return this.#parts[k]![p - s]!;
    }
    return 0;
  }

  /** Lets go of everything before `upTo`. */
  release(upTo: number): Buffer {
    if (upTo <= this.#released) return EMPTY;
    const out: Buffer[] = [];
    while (this.#first < this.#parts.length) {
      const part = this.#parts[this.#first]!;
      const s = this.#starts[this.#first]!;
      const from = this.#released - s;
      if (s + part.length <= upTo) {
        out.push(from === 0 ? part : part.subarray(from));
        this.#released = s + part.length;
        this.#first++;
        continue;
      }
      out.push(part.subarray(from, upTo - s));
      this.#released = upTo;
      break;
    }
    if (this.#first > 64 && this.#first * 2 > this.#parts.length) {
      this.#parts = this.#parts.slice(this.#first);
      this.#starts = this.#starts.slice(this.#first);
      this.#owned = this.#owned.slice(this.#first);
      this.#first = 0;
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

