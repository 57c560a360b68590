// The forms of the route credential, compiled for a search that goes through a response once, byte by byte,
// and carries its state across chunks, events and JSON values (leak-view.ts feeds it). An Aho-Corasick
// automaton: its state after a byte is the longest tail of what was read that could still grow into a form,
// so the bytes held back for a form cut across pieces are exactly that tail, however the pieces are framed.

/** A compiled set of forms; `step` is amortised constant time per byte. */
export class Automaton {
  /** Root transitions, dense: the state is the root for almost every byte of an ordinary body. */
  readonly root = new Int32Array(256);
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
    const children: Map<number, number>[] = [new Map()];
    const depth: number[] = [0];
    const ends: number[] = [0];
    for (const f of forms) {
      let s = 0;
      for (const b of f) {
        let t = children[s]!.get(b);
        if (t === undefined) {
          t = children.length;
          children.push(new Map());
          depth.push(depth[s]! + 1);
          ends.push(0);
          children[s]!.set(b, t);
        }
        s = t;
      }
      ends[s] = f.length;
    }
    const n = children.length;
    this.#edgeStart = new Int32Array(n);
    this.#edgeCount = new Uint16Array(n);
    this.#edgeByte = new Uint8Array(n);
    this.#edgeTo = new Int32Array(n);
    let e = 0;
    for (let s = 0; s < n; s++) {
      this.#edgeStart[s] = e;
      this.#edgeCount[s] = children[s]!.size;
      for (const [b, t] of children[s]!) {
        this.#edgeByte[e] = b;
        this.#edgeTo[e++] = t;
      }
    }
    for (const [b, t] of children[0]!) this.root[b] = t;
    this.depth = Int32Array.from(depth);
    this.match = Int32Array.from(ends);
    this.#fail = new Int32Array(n);
    // Breadth first, so a state's failure target is done before the state.
    const queue = [...children[0]!.values()];
    for (let q = 0; q < queue.length; q++) {
      const s = queue[q]!;
      for (const [b, t] of children[s]!) {
        this.#fail[t] = this.step(this.#fail[s]!, b);
        if (this.match[t] === 0) this.match[t] = this.match[this.#fail[t]!]!;
        queue.push(t);
      }
    }
    this.longest = forms.reduce((m, f) => Math.max(m, f.length), 0);
  }

  step(state: number, b: number): number {
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
