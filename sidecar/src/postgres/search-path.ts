import type { StatementFacts } from "./sql/types.js";

/**
 * What the session's search_path may be. A SET inside a transaction (or SET LOCAL) can be rolled
 * back, so until the session is idle again both the old and the new path are possible: the analysis
 * then gets every schema either could search, and the policy sees all of them as candidates.
 */
export class SearchPathTracker {
  #paths: string[][] | null;

  constructor(initial: string[] | null, private readonly fallback: string[]) {
    this.#paths = initial ? [initial] : null;
  }

  /** Ordered union of the possible paths; null when unknown. */
  get current(): string[] | null {
    if (!this.#paths) return null;
    return [...new Set(this.#paths.flat())];
  }

  /** Called when a statement is allowed to run; `settled` = not inside a transaction block. */
  apply(statements: readonly StatementFacts[], settled: boolean): void {
    for (const s of statements) {
      for (const change of s.settings) {
        if (change.name !== "search_path" && change.name !== "all" && change.name !== "*") continue;
        const next = change.value === null ? (change.action === "reset" ? this.fallback : null) : parsePath(change.value);
        if (next === null || change.name === "*") {
          this.#paths = null;
          continue;
        }
        if (this.#paths === null) continue;
        if (settled && !change.local && statements.length === 1) this.#paths = [next];
        else this.#paths.push(next);
      }
      if (s.kind === "utility" && /^\s*discard\s+all/i.test(s.sql) && this.#paths) this.#paths.push(this.fallback);
    }
  }
}

/** search_path text as PostgreSQL stores it: comma-separated, identifiers possibly quoted. */
export function parsePath(text: string): string[] {
  const out: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([^,\s]+))\s*(?:,|$)/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text))) {
    if (m[1] !== undefined) out.push(m[1].replace(/""/g, '"'));
    else if (m[2]) out.push(m[2].toLowerCase());
    if (m[0] === "") break;
  }
  return out;
}
