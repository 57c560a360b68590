// The forms of the route credential, compiled for a search that goes through a response once, byte by byte,
// and carries its state across chunks, events and JSON values (leak-view.ts feeds it). An Aho-Corasick
// automaton: its state after a byte is the longest tail of what was read that could still grow into a form,
// so the bytes held back for a form cut across pieces are exactly that tail, however the pieces are framed.

/**
 * Entries of the dense transition table at most (4 bytes each). Every byte of a response steps the automaton,
 * almost always from a shallow state: those take one table read. Deeper states (a long credential's forms
 * reach thousands) fall back to walking their edges and failure links, which is as exact but slower.
 */
const DENSE_ENTRIES = 1 << 15;

/** A compiled set of forms; `step` is amortised constant time per byte, one table read from a shallow state. */
export class Automaton {
  /** Root transitions, dense: the state is the root for almost every byte of an ordinary body. */
  readonly root = new Int32Array(256);
  /** Bytes that occur in some form, numbered from 1 (0: in none, which always leads back to the root). */
  readonly byteClass = new Uint8Array(256);
  /** Byte classes, 0 included: the width of a row of `dense`. */
  readonly width: number;
  /** States below this (the shallowest: states are numbered breadth first) have a row in `dense`. */
  readonly denseStates: number;
  /** The next state, for a dense state and a byte class: dense[state * width + byteClass[byte]]. */
  readonly dense: Int32Array;
  /** Children of each node, as runs in `#edgeByte`/`#edgeTo` (most nodes have one). */
  readonly #edgeStart: Int32Array;
  readonly #edgeCount: Uint16Array;
  readonly #edgeByte: Uint8Array;
  readonly #edgeTo: Int32Array;
  readonly #fail: Int32Array;
  /** Length of the string a state stands for. */
  readonly depth: Int32Array;
  /** Length of the longest form that ends at this state (0 for none). */
  readonly match: Int32Array;
  /** Length of the longest form. */
  readonly longest: number;

  constructor(forms: readonly Uint8Array[]) {
    // The trie, then its states renumbered breadth first, so that the shallow ones are the low numbers.
    const trie: Map<number, number>[] = [new Map()];
    const ends: number[] = [0];
    for (const f of forms) {
      let s = 0;
      for (const b of f) {
        let t = trie[s]!.get(b);
        if (t === undefined) {
          t = trie.length;
          trie.push(new Map());
          ends.push(0);
          trie[s]!.set(b, t);
        }
        s = t;
      }
      ends[s] = f.length;
    }
    const order = [0];
    for (let q = 0; q < order.length; q++) for (const t of trie[order[q]!]!.values()) order.push(t);
    const id = new Int32Array(order.length);
    order.forEach((old, k) => (id[old] = k));
    const n = order.length;
    this.#edgeStart = new Int32Array(n);
    this.#edgeCount = new Uint16Array(n);
    this.#edgeByte = new Uint8Array(n);
    this.#edgeTo = new Int32Array(n);
    this.depth = new Int32Array(n);
    this.match = new Int32Array(n);
    let e = 0;
    for (let s = 0; s < n; s++) {
      const children = trie[order[s]!]!;
      this.#edgeStart[s] = e;
      this.#edgeCount[s] = children.size;
      this.match[s] = ends[order[s]!]!;
      for (const [b, old] of children) {
        const t = id[old]!;
        this.#edgeByte[e] = b;
        this.#edgeTo[e++] = t;
        this.depth[t] = this.depth[s]! + 1;
        if (s === 0) this.root[b] = t;
      }
    }
    this.#fail = new Int32Array(n);
    // Breadth first, so a state's failure target is done before the state.
    for (let s = 0; s < n; s++) {
      const start = this.#edgeStart[s]!;
      for (let k = start; k < start + this.#edgeCount[s]!; k++) {
        const t = this.#edgeTo[k]!;
        if (s !== 0) this.#fail[t] = this.#walk(this.#fail[s]!, this.#edgeByte[k]!);
        if (this.match[t] === 0) this.match[t] = this.match[this.#fail[t]!]!;
      }
    }
    const bytes: number[] = [];
    for (const f of forms) for (const b of f) if (this.byteClass[b] === 0) this.byteClass[b] = bytes.push(b);
    this.width = bytes.length + 1;
    this.denseStates = Math.min(n, Math.max(1, Math.floor(DENSE_ENTRIES / this.width)));
    this.dense = new Int32Array(this.denseStates * this.width);
    for (let s = 0; s < this.denseStates; s++) for (let k = 1; k < this.width; k++) this.dense[s * this.width + k] = this.#walk(s, bytes[k - 1]!);
    this.longest = forms.reduce((m, f) => Math.max(m, f.length), 0);
  }

  step(state: number, b: number): number {
    return state < this.denseStates ? this.dense[state * this.width + this.byteClass[b]!]! : this.#walk(state, b);
  }

  /** The transition by the trie's edges and failure links. */
  #walk(state: number, b: number): number {
    let s = state;
    for (;;) {
      if (s === 0) return this.root[b]!;
      const start = this.#edgeStart[s]!;
      const end = start + this.#edgeCount[s]!;
      for (let e = start; e < end; e++) if (this.#edgeByte[e] === b) return this.#edgeTo[e]!;
      s = this.#fail[s]!;
    }
  }
}

/** What the decoded check looks for: forms read as they are, and hex forms read in either case. */
export interface Needles {
  readonly text: Automaton;
  readonly hex: Automaton;
  /** Length of the longest form of either kind. */
  readonly longest: number;
}

export function compileNeedles(text: readonly Uint8Array[], hex: readonly Uint8Array[]): Needles {
  const t = new Automaton(text);
  const h = new Automaton(hex.map((f) => Buffer.from(Buffer.from(f).toString("latin1").toLowerCase(), "latin1")));
  return { text: t, hex: h, longest: Math.max(t.longest, h.longest) };
}
