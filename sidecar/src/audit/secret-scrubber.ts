import { secretTexts } from "../mask/index.js";
import { SecretSearch } from "./secret-search.js";

export const REDACTED = "[REDACTED]";

/** The secrets to scrub: a fixed list, or where to read them (agent tokens given as {file} change on disk). */
export type SecretSource = readonly string[] | (() => readonly string[]);

/** How often a source read from files is asked again (each ask stats the secret files). */
const RECHECK_MS = 1000;

/**
 * Replaces every form of the secrets regate holds (as is, JSON-escaped, base64, percent-encoded:
 * mask/secret-texts.ts) in a batch of JSON log lines. Inputs and request lines never carry them by
 * construction, but an agent can type one into a statement or a request path, and those are logged. One
 * search of the batch for every form at once; only a batch that holds one is searched form by form, longest
 * first, to replace them. A source that is a function is read again at most every second, so a token rotated
 * in from its file is scrubbed too (the rotated-out one stays in the list: it may still be typed).
 */
export class SecretScrubber {
  readonly #source: (() => readonly string[]) | undefined;
  #key = "";
  #known = new Set<string>();
  #checkedAt = 0;
  #forms: string[] = [];
  #search = new SecretSearch([]);

  /** `mark`: what a secret's place reads (exported events use the masks' `****`). */
  constructor(
    source: SecretSource,
    private readonly mark = REDACTED,
  ) {
    if (typeof source === "function") {
      this.#source = source;
      this.#take(source());
      this.#checkedAt = Date.now();
    } else this.#take(source);
  }

  #take(secrets: readonly string[]): void {
    const key = secrets.join("\u0000");
    if (key === this.#key) return;
    this.#key = key;
    for (const s of secrets) this.#known.add(s);
    // A JSON line has no raw newline: a form with one cannot be in it (its JSON-escaped form is searched for).
    this.#forms = secretTexts([...this.#known]).filter((f) => !f.includes("\n"));
    this.#search = new SecretSearch(this.#forms);
  }

  scrub(text: string): string {
    if (this.#source) {
      const now = Date.now();
      if (now - this.#checkedAt >= RECHECK_MS) {
        this.#checkedAt = now;
        this.#take(this.#source());
      }
    }
    if (!this.#search.test(text)) return text;
    for (const s of this.#forms) if (text.includes(s)) text = text.split(s).join(this.mark);
    return text;
  }
}
