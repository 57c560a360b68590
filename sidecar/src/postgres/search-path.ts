import { parseSearchPath } from "./sql/index.js";
import type { StatementFacts } from "./sql/types.js";

/**
 * What the session's search_path may be. A SET inside a transaction (or SET LOCAL) can be rolled
 * back, and a set_config() in a query may run zero times: until regate knows, both the old and the
 * new path are possible, so the analysis gets every schema either could search and the policy sees
 * all of them as candidates. Only a plain SET that runs alone outside a transaction replaces it.
 */
export class SearchPathTracker {
  #paths: string[][] | null;
  #current: string[] | null | undefined;

  /**
   * `fallback` is what RESET (and RESET ALL, DISCARD ALL) goes back to: the path the session started
   * with (startup options, ALTER ROLE/DATABASE ... SET), not PostgreSQL's default; null when not known.
   */
  constructor(initial: string[] | null, private readonly fallback: string[] | null) {
    this.#paths = initial ? [initial] : null;
  }

  /** Ordered union of the possible paths; null when unknown. */
  get current(): string[] | null {
    if (this.#current === undefined) this.#current = this.#paths ? [...new Set(this.#paths.flat())] : null;
    return this.#current;
  }

  /** Called when statements are allowed to run; `settled` = not inside a transaction block. */
  apply(statements: readonly StatementFacts[], settled: boolean): void {
    for (const s of statements) {
      if (s.settings.length > 0 || s.kind === "utility") this.#current = undefined;
      for (const change of s.settings) {
        if (change.name !== "search_path" && change.name !== "all" && change.name !== "*") continue;
        const next = change.value === null ? (change.action === "reset" ? this.fallback : null) : parseSearchPath(change.value);
        if (next === null || change.name === "*") {
          this.#paths = null;
          continue;
        }
        if (this.#paths === null) continue;
        const certain = settled && !change.local && change.action !== "set_config" && statements.length === 1;
        if (certain) this.#paths = [next];
        else this.#paths.push(next);
      }
      if (isDiscardAll(s) && this.#paths) {
        if (this.fallback === null) this.#paths = null;
        else this.#paths.push(this.fallback);
      }
    }
  }

  /**
   * The server reported its search_path (ParameterStatus: PostgreSQL 18 reports every change). It is in
   * effect now, whatever changed it: a SET tracked above, or a function or trigger body regate never sees
   * (`PERFORM set_config('search_path', ...)` in a function a policy allows), which no statement's facts show.
   * It becomes one of the possible paths, so what the session sends next is analysed under it too (and the
   * analysis cache, keyed on this tracker's array, takes it anew). Never narrows the paths: a report is read
   * after later messages may have been sent, and their own changes are tracked as they are sent.
   */
  reported(value: string): void {
    if (this.#paths === null) return;
    const path = parseSearchPath(value);
    if (path === null) {
      // A value regate cannot read: no path is known.
      this.#paths = null;
      this.#current = undefined;
      return;
    }
    if (this.#paths.some((p) => p.length === path.length && p.every((name, i) => name === path[i]))) return;
    this.#paths.push(path);
    this.#current = undefined;
  }
}

/** DISCARD ALL resets the session: settings, prepared statements, cursors. */
export function isDiscardAll(s: StatementFacts): boolean {
  return s.kind === "utility" && /^\s*discard\s+all/i.test(s.sql);
}
