/**
 * Whether any of a few secret texts occurs in a text, in one pass (Wu-Manber with two-character blocks).
 * The decision log searches every batch for the secrets regate holds; one `includes` per form read each
 * line once per form (four passes with two secrets). Here the text is read once, skipping ahead by up to
 * the shortest form's length: a block of two characters that ends no form's prefix lets the search jump
 * past it. A possible match is confirmed with `startsWith`, so the answer is exact; characters are hashed
 * by their low byte, and a collision only makes a jump shorter.
 */
export class SecretSearch {
  readonly #forms: readonly string[];
  /** Length of the shortest form: only its first `#m` characters of each form take part in the jumps. */
  readonly #m: number;
  readonly #shift: Uint8Array;
  /** Forms whose first `#m` characters end with the block, by block hash. */
  readonly #ends = new Map<number, string[]>();

  /** `forms`: the texts to find, each at least 2 characters long. */
  constructor(forms: readonly string[]) {
    this.#forms = forms;
    this.#m = forms.length === 0 ? 0 : Math.min(...forms.map((f) => f.length));
    if (forms.length > 0 && this.#m < 2) throw new Error("a secret form must be at least 2 characters long");
    this.#shift = new Uint8Array(1 << 16).fill(Math.min(Math.max(this.#m - 1, 0), 255));
    for (const form of forms) {
      for (let j = 1; j < this.#m; j++) {
        const h = block(form, j);
        const s = this.#m - 1 - j;
        if (s < this.#shift[h]!) this.#shift[h] = s;
        if (s === 0) {
          const list = this.#ends.get(h);
          if (list) list.push(form);
          else this.#ends.set(h, [form]);
        }
      }
    }
  }

  /** True when some form occurs in `text`. */
  test(text: string): boolean {
    if (this.#forms.length === 0) return false;
    const m = this.#m;
    const shift = this.#shift;
    const n = text.length;
    let i = m - 1;
    while (i < n) {
      const h = block(text, i);
      const s = shift[h]!;
      if (s > 0) {
        i += s;
        continue;
      }
      const start = i - m + 1;
      for (const form of this.#ends.get(h)!) if (text.startsWith(form, start)) return true;
      i++;
    }
    return false;
  }
}

/** The two characters ending at `at`, by their low bytes. */
function block(text: string, at: number): number {
  return ((text.charCodeAt(at - 1) & 0xff) << 8) | (text.charCodeAt(at) & 0xff);
}
