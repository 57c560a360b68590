import { resolveAnalysis } from "../resolve.js";
import { analyze } from "../sql/index.js";
import type { AnalysisResult } from "../sql/types.js";
import type { SessionState } from "./state.js";

const CAPACITY = 512;

/**
 * Analyses by everything they depend on: the SQL text, the search_path in effect, the catalog's
 * generation (bumped on any DDL regate sees or hears of) and the session's SQL-level prepared
 * statement and cursor overlay. A key that misses one of these serves facts about another table.
 */
export class AnalysisCache {
  readonly #map = new Map<string, AnalysisResult>();
  #overlay = 0;

  /** PREPARE, DECLARE, DEALLOCATE or DISCARD changed what names mean in this session. */
  overlayChanged(): void {
    this.#overlay++;
  }

  key(sql: string, searchPath: readonly string[] | null, generation: number): string {
    return `${generation}\u0000${this.#overlay}\u0000${searchPath === null ? "\u0001" : searchPath.join("\u0000")}\u0000\u0000${sql}`;
  }

  get(key: string): AnalysisResult | undefined {
    return this.#map.get(key);
  }

  set(key: string, a: AnalysisResult): void {
    // What a statement does to the session (SET, PREPARE, DDL...) is applied when it is allowed; a
    // cached copy would skip nothing, but such statements are rare and their facts change the key.
    const volatile = a.statements.some((s) => s.settings.length > 0 || s.kind === "prepare" || s.kind === "execute" || s.kind === "cursor" || s.kind === "fetch" || s.kind === "deallocate" || s.ddl);
    if (volatile) return;
    if (this.#map.size >= CAPACITY) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(key, a);
  }

  clear(): void {
    this.#map.clear();
  }
}

/** Stage 2: statement text -> facts, through the cache; asynchronous when the catalog must be asked. */
export function analyse(s: SessionState, sql: string, attempt = 0): AnalysisResult | Promise<AnalysisResult> {
  const max = s.ctx.maxStatementBytes;
  if (Buffer.byteLength(sql) > max) return { statements: [], fingerprint: "", parse_error: `statement is longer than ${max} bytes` };
  const catalog = s.ctx.catalog;
  const generation = catalog.generation;
  const key = s.analyses.key(sql, s.searchPath.current, generation);
  const cached = s.analyses.get(key);
  if (cached) return cached;
  const run = (text: string, searchPath?: string[]) =>
    analyze(text, { searchPath: searchPath ?? s.searchPath.current, user: s.user, prepared: s.prepared, cursors: s.cursors, catalog });
  let resolved: AnalysisResult | Promise<AnalysisResult>;
  try {
    resolved = resolveAnalysis(sql, run, catalog);
  } catch (err) {
    return catalogFailed(s, err);
  }
  if (!(resolved instanceof Promise)) {
    s.analyses.set(key, resolved);
    return resolved;
  }
  return resolved.then(
    (a) => {
      if (catalog.generation === generation) {
        s.analyses.set(key, a);
        return a;
      }
      // The catalog changed while this analysis waited on it: its facts may describe the old one.
      if (attempt < 2) return analyse(s, sql, attempt + 1);
      return catalogFailed(s, new Error("catalog kept changing during analysis"));
    },
    (err: unknown) => catalogFailed(s, err),
  );
}

function catalogFailed(s: SessionState, err: unknown): AnalysisResult {
  s.log.warn({ err }, "catalog lookup failed; denying");
  return { statements: [], fingerprint: "", parse_error: "regate could not reach the catalog to resolve names" };
}
