// Where the text pieces of JSON documents are, as an agent reading them would join them: the strings (keys and
// values) and numbers of one document in order, and the values at one path across documents (a delta's
// `choices[0].delta.content` in every event of an LLM stream, `items[*].text` across an array), or under one
// key name at one depth (`users.*.token` across a map keyed by id: object keys cannot be told from ids). Lenient:
// it reads any bytes, resynchronising at a raw line break inside a string (no JSON string holds one), and keeps
// no more than a fixed stack, so a body that is not JSON costs the same as one that is.

import { randomBytes } from "node:crypto";
import * as bytes from "./leak-json-bytes.js";

// Module-local copies of what hot code reads: V8 reads an imported binding from memory on every use.
const { BACKSLASH, IN_STRING, IN_STRING_STOP, NUMBER_BYTE, OUTSIDE, PIECE, QUOTE } = bytes;

/** What a piece is: a key, a string value or a number. */
export const KEY = 1;
export const VALUE = 2;
export const NUMBER = 3;

/** Where `read` tells the pieces it finds. */
export interface PieceSink {
  /**
   * A piece starts at buf[at]: a number's first byte, or the first byte after a string's opening quote; for a
   * value, its path and its depth and key name (leak-paths.ts joins values by them).
   */
  pieceStart(at: number, kind: number, path: number, leaf: number): void;
  /** The piece under way ends before buf[at]: its closing quote (`quote`), or the byte that ended it. */
  pieceEnd(at: number, quote: boolean): void;
}

const OUT = 0;
const STR = 1;
const NUM = 2;

const OBJECT = 1;
const ARRAY = 2;
/** Containers deeper than this share their parent's path (the stack stays fixed). */
const MAX_DEPTH = 64;

/** A string's first bytes are read one by one (most strings are short), the rest by native searches. */
const NEAR = 24;

/**
 * Paths hash with a per-process seed: a body cannot be built to make two paths collide. Hashes keep to 30
 * bits, small integers to V8, so they key a Map without being boxed.
 */
const SEED = randomBytes(4).readInt32LE(0) & 0x3fffffff;
const ARRAY_STEP = 0x5bd1e995;
const LEAF_STEP = 0x27d4eb2f;

function mix(a: number, b: number): number {
  const h = Math.imul(a ^ b, 0x85ebca6b);
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

export class JsonPieces {
  #mode = OUT;
  #escape = false;
  /** For #nextInString: the buffer searched last, and where each of IN_STRING_STOP was found in it next. */
  #buf: Uint8Array | undefined;
  readonly #found = [-1, -1, -1, -1];
  #searchedFrom = 0;
  #key = false;
  #hash = 0;
  /** The open containers: kind, path, current key, and for an array the key it is the value of. */
  readonly #kinds: number[] = [];
  readonly #paths: number[] = [];
  readonly #keys: number[] = [];
  readonly #names: number[] = [];
  #depth = 0;
  /** Containers opened past MAX_DEPTH and not closed yet. */
  #over = 0;
  #expectKey = false;

  /** Forgets the document under way (an event of a stream ended, or the bytes stopped being JSON). */
  reset(): void {
    this.#mode = OUT;
    this.#escape = false;
    this.#depth = 0;
    this.#over = 0;
    this.#expectKey = false;
  }

  /** Whether a piece is under way (a string or a number not yet ended). */
  get inPiece(): boolean {
    return this.#mode === STR || this.#mode === NUM;
  }

  /**
   * Reads buf[i, end), telling `sink` where each piece starts and ends as it goes (one loop over the bytes, no
   * call per run of structure or text).
   */
  read(buf: Uint8Array, i: number, end: number, sink: PieceSink): void {
    let mode = this.#mode;
    while (i < end) {
      if (mode === STR) {
        if (this.#key) i = this.#scanKey(buf, i, end);
        else {
          // Most strings are short: their first bytes are read here, the rest (and escapes) in #scanString.
          const near = i + NEAR < end ? i + NEAR : end;
          if (this.#escape) i = this.#scanString(buf, i, end);
          else {
            while (i < near && IN_STRING[buf[i]!] === 0) i++;
            if (i >= near || buf[i] === BACKSLASH) i = this.#scanString(buf, i, end);
          }
        }
        if (i >= end) break;
        const c = buf[i]!;
        mode = OUT;
        if (c === QUOTE) {
          if (this.#key) {
            this.#keys[this.#depth - 1] = this.#hash;
            this.#expectKey = false;
          }
        } else this.reset(); // a raw line break: no JSON string holds one, so start afresh
        this.#mode = OUT;
        sink.pieceEnd(i, c === QUOTE);
        i++;
        continue;
      }
      if (mode === NUM) {
        while (i < end && NUMBER_BYTE[buf[i]!] === 1) i++;
        if (i >= end) break;
        mode = this.#mode = OUT;
        sink.pieceEnd(i, false);
        // The byte that ended it is read below, as any byte between pieces.
      }
      // Between pieces: whitespace and literal words (true, false, null, or text that is not JSON) are passed.
      let k = 0;
      for (; i < end; i++) {
        k = OUTSIDE[buf[i]!]!;
        if (k >= PIECE) {
          if (k === PIECE) break;
          this.#structure(buf[i]!);
        }
      }
      if (i >= end) break;
      if (buf[i] === QUOTE) {
        mode = this.#mode = STR;
        if (this.#stringStart()) sink.pieceStart(i + 1, KEY, 0, 0);
        else sink.pieceStart(i + 1, VALUE, this.#valuePath(), mix(this.#depth ^ LEAF_STEP, this.#valueName()));
        i++;
      } else {
        // A number: its first byte is its own (the loop above reads it).
        mode = this.#mode = NUM;
        sink.pieceStart(i, NUMBER, 0, 0);
      }
    }
    this.#mode = mode;
  }

  /**
   * The line break that joins the data lines of an event: for this reader it ends a number, or (no JSON string
   * holds one) a string. True when it ended a piece.
   */
  lineBreak(): boolean {
    if (this.#mode === STR) {
      this.reset();
      return true;
    }
    if (this.#mode === NUM) {
      this.#mode = OUT;
      return true;
    }
    return false;
  }

  /** A string's text from `i` (a backslash, or its first bytes read): where it ends (quote or line break) or `end`. */
  #scanString(buf: Uint8Array, i: number, end: number): number {
    if (this.#escape && i < end) {
      this.#escape = false;
      i++;
    }
    for (;;) {
      const k = this.#nextInString(buf, i, end);
      if (k >= end || buf[k] !== BACKSLASH) return k;
      // A backslash: the byte after it is content whatever it is (it may be in the next chunk).
      i = k + 2;
      if (i > end) {
        this.#escape = true;
        return end;
      }
    }
  }

  /**
   * The first quote, backslash or raw line break at or after `i` (or `end`); past a string's first bytes, by
   * native searches, its text not looked at byte by byte. Where each was found is kept for the same buffer,
   * so a buffer costs one search per kind of byte and occurrence, however many strings it holds.
   */
  #nextInString(buf: Uint8Array, i: number, end: number): number {
    // Most strings are short: a few bytes are looked at first.
    const near = Math.min(end, i + NEAR);
    for (; i < near; i++) if (IN_STRING[buf[i]!] !== 0) return i;
    if (i >= end) return end;
    // A buffer read again from an earlier point (or a new one) is searched afresh.
    if (buf !== this.#buf || i < this.#searchedFrom) {
      this.#buf = buf;
      this.#found.fill(-1);
    }
    this.#searchedFrom = i;
    let at = end;
    for (let k = 0; k < 4; k++) {
      let f = this.#found[k]!;
      if (f < i) {
        f = buf.indexOf(IN_STRING_STOP[k]!, i);
        this.#found[k] = f < 0 ? buf.length : f;
        f = this.#found[k]!;
      }
      if (f < at) at = f;
    }
    return at;
  }

  #scanKey(buf: Uint8Array, i: number, end: number): number {
    let h = this.#hash;
    for (; i < end; i++) {
      const c = buf[i]!;
      h = Math.imul(h ^ c, 0x01000193);
      if (this.#escape) {
        this.#escape = false;
        continue;
      }
      const k = IN_STRING[c]!;
      if (k === 0) continue;
      if (k === 2) this.#escape = true;
      else break;
    }
    this.#hash = h;
    return i;
  }

  /** A string starts: a key if an object expects one (true), else a value at the current path. */
  #stringStart(): boolean {
    const top = this.#depth > 0 && this.#over === 0 ? this.#kinds[this.#depth - 1]! : 0;
    this.#key = top === OBJECT && this.#expectKey;
    if (this.#key) this.#hash = SEED;
    return this.#key;
  }

  #structure(c: number): void {
    switch (c) {
      case 0x7b:
      case 0x5b:
        this.#open(c === 0x7b ? OBJECT : ARRAY);
        return;
      case 0x7d:
      case 0x5d:
        if (this.#over > 0) this.#over--;
        else if (this.#depth > 0) this.#depth--;
        this.#expectKey = false;
        return;
      case 0x2c:
        this.#expectKey = this.#over === 0 && this.#depth > 0 && this.#kinds[this.#depth - 1] === OBJECT;
        return;
      default:
        this.#expectKey = false;
    }
  }

  #valuePath(): number {
    if (this.#depth === 0) return SEED;
    const d = this.#depth - 1;
    return mix(this.#paths[d]!, this.#kinds[d] === OBJECT ? this.#keys[d]! : ARRAY_STEP);
  }

  /** The key a value is under, through arrays (0 at the top). */
  #valueName(): number {
    if (this.#depth === 0) return 0;
    const d = this.#depth - 1;
    return this.#kinds[d] === OBJECT ? this.#keys[d]! : this.#names[d]!;
  }

  #open(kind: number): void {
    if (this.#over > 0 || this.#depth === MAX_DEPTH) {
      this.#over++;
      return;
    }
    const path = this.#valuePath();
    this.#names[this.#depth] = this.#valueName();
    this.#kinds[this.#depth] = kind;
    this.#paths[this.#depth] = path;
    this.#keys[this.#depth] = 0;
    this.#depth++;
    this.#expectKey = kind === OBJECT;
  }
}
