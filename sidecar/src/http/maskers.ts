// The response masker for a decision's mask rules, built once per set of rules rather than per request.

import type { MaskRule } from "../decision/index.js";
import type { FieldNameMatching } from "./field-names.js";
import { ResponseMasker } from "./masker.js";

/** Rule sets whose JSON is longer than this are not kept by content (they are still kept by identity). */
const MAX_KEY_CHARS = 4096;
/** Distinct rule sets kept by content; when full, the map starts over. */
const MAX_ENTRIES = 256;

/**
 * Maskers by rule set. A reused decision hands back the same rules array (kept by identity); a decision
 * evaluated anew (a policy that declares no reuse) brings equal rules in a new array, kept by their JSON.
 * A masker is a function of its rules alone (with the gateway's fixed hash key and name matching) and keeps
 * no state between calls, so equal rules may share one, as may the header preparation mask-headers.ts
 * keeps beside it.
 */
export class Maskers {
  readonly #byRules = new WeakMap<readonly MaskRule[], ResponseMasker | null>();
  readonly #byJson = new Map<string, ResponseMasker | null>();
  readonly #build: (rules: readonly MaskRule[]) => ResponseMasker | null;

  constructor(hashKey: Buffer | undefined, names: FieldNameMatching | boolean) {
    // A boolean is the older option: case-sensitive (true) is exact matching.
    const opts = { names: typeof names === "boolean" ? (names ? "exact" : "spelling") : names } as const;
    this.#build = (rules) => ResponseMasker.from(rules, hashKey, opts) ?? null;
  }

  for(rules: readonly MaskRule[]): ResponseMasker | undefined {
    let m = this.#byRules.get(rules);
    if (m === undefined) {
      const key = rules.length === 0 ? "[]" : JSON.stringify(rules);
      if (key.length > MAX_KEY_CHARS) m = this.#build(rules);
      else {
        m = this.#byJson.get(key);
        if (m === undefined) {
          m = this.#build(rules);
          if (this.#byJson.size >= MAX_ENTRIES) this.#byJson.clear();
          this.#byJson.set(key, m);
        }
      }
      this.#byRules.set(rules, m);
    }
    return m ?? undefined;
  }
}
