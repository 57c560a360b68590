// A small seeded mutation engine: deterministic for a given seed, so every finding can be replayed.

/** mulberry32: 32-bit state, good enough spread for choosing mutations, and reproducible everywhere. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

// Values that sit on the edges decoders get wrong: signs, widths, lengths of 0..4, and "everything".
const INT32S = [0, 1, 2, 3, 4, 5, -1, -2, 0x7fffffff, -0x80000000, 0xffff, 0x7fff, 0x8000, 255, 256, 1 << 20, 10_000, 10_001];
const INT16S = [0, 1, 2, -1, -2, 0x7fff, -0x8000, 0xff, 0x100, 1000];
const BYTES = [0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c, 0x27, 0x3b, 0x53, 0x50];

export interface MutateOptions {
  /** Other inputs of the same target, for splicing. */
  pool: readonly Buffer[];
  /** Byte strings worth inserting whole (SQL keywords, JSON punctuation). */
  tokens?: readonly Buffer[];
  maxLength: number;
}

/** One to four stacked mutations of `input`. Never returns a buffer longer than maxLength. */
export function mutate(rng: Rng, input: Buffer, opts: MutateOptions): Buffer {
  let b = Buffer.from(input);
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) b = mutateOnce(rng, b, opts);
  return b.length > opts.maxLength ? b.subarray(0, opts.maxLength) : b;
}

function mutateOnce(rng: Rng, b: Buffer, opts: MutateOptions): Buffer {
  const at = (extra = 0) => rng.int(Math.max(1, b.length + extra));
  switch (rng.int(opts.tokens?.length ? 11 : 10)) {
    case 0: {
      if (b.length === 0) return Buffer.from([rng.int(256)]);
      const c = Buffer.from(b);
      const i = at();
      c[i] = c[i]! ^ (1 << rng.int(8));
      return c;
    }
    case 1: {
      if (b.length === 0) return b;
      const c = Buffer.from(b);
      c[at()] = rng.next() < 0.5 ? rng.pick(BYTES) : rng.int(256);
      return c;
    }
    case 2: {
      if (b.length < 4) return b;
      const c = Buffer.from(b);
      c.writeInt32BE(rng.pick(INT32S) | 0, rng.int(b.length - 3));
      return c;
    }
    case 3: {
      if (b.length < 2) return b;
      const c = Buffer.from(b);
      c.writeInt16BE(rng.pick(INT16S), rng.int(b.length - 1));
      return c;
    }
    case 4: {
      const i = at(1);
      const n = 1 + rng.int(8);
      const ins = Buffer.alloc(n);
      for (let k = 0; k < n; k++) ins[k] = rng.next() < 0.5 ? rng.pick(BYTES) : rng.int(256);
      return Buffer.concat([b.subarray(0, i), ins, b.subarray(i)]);
    }
    case 5: {
      if (b.length === 0) return b;
      const i = at();
      const n = 1 + rng.int(Math.min(16, b.length - i));
      return Buffer.concat([b.subarray(0, i), b.subarray(i + n)]);
    }
    case 6: {
      // Duplicate a range (repeated fields, repeated messages).
      if (b.length === 0) return b;
      const i = at();
      const n = 1 + rng.int(Math.min(64, b.length - i));
      const j = at(1);
      return Buffer.concat([b.subarray(0, j), b.subarray(i, i + n), b.subarray(j)]);
    }
    case 7:
      return b.subarray(0, at(1));
    case 8: {
      // Splice: head of this input, tail of another.
      const other = rng.pick(opts.pool);
      if (!other || other.length === 0) return b;
      return Buffer.concat([b.subarray(0, at(1)), other.subarray(rng.int(other.length))]);
    }
    case 9: {
      // Append another whole input (several messages in one stream).
      const other = rng.pick(opts.pool);
      return other ? Buffer.concat([b, other]) : b;
    }
    default: {
      const tok = rng.pick(opts.tokens!);
      const i = at(1);
      return Buffer.concat([b.subarray(0, i), tok, b.subarray(i)]);
    }
  }
}
