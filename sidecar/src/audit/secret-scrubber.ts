import { secretTexts } from "../mask/index.js";
import { SecretSearch } from "./secret-search.js";

export const REDACTED = "[REDACTED]";

/**
 * Replaces every form of the secrets regate holds (as is, JSON-escaped, base64: mask/secret-texts.ts) in a
 * batch of JSON log lines. Inputs and request lines never carry them by construction, but an agent can type
 * one into a statement or a request path, and those are logged. One search of the batch for every form at
 * once; only a batch that holds one is searched form by form, longest first, to replace them.
 */
export class SecretScrubber {
  readonly #forms: string[];
  readonly #search: SecretSearch;

  constructor(secrets: readonly string[]) {
    // A JSON line has no raw newline: a form with one cannot be in it (its JSON-escaped form is searched for).
    this.#forms = secretTexts(secrets).filter((f) => !f.includes("\n"));
    this.#search = new SecretSearch(this.#forms);
  }

  scrub(text: string): string {
    if (!this.#search.test(text)) return text;
    for (const s of this.#forms) if (text.includes(s)) text = text.split(s).join(REDACTED);
    return text;
  }
}
