import type { Decision } from "../../decision/index.js";
import type { AnalysisResult } from "../sql/types.js";
import { ServedAnalysis, templateOf } from "./analyse.js";

const CAPACITY = 1024;

interface Entry {
  decision: Decision;
  expires: number;
  /** Parts of the input the directive does not let vary, as they were. */
  parameters?: string;
  budget?: string;
}

/**
 * Analyses are identified by object: one comes from the analysis cache only for the same text, path, catalog, overlay
 * and temporary-relations version (AnalysisCache.temporaryChanged: a name made, stored into or forgotten in pg_temp).
 */
const ids = new WeakMap<object, number>();
let nextId = 1;

/** Where a decision may be found: by its analysis, and (a statement served from a template) by that template. */
export interface ReuseKey {
  exact: string;
  template?: string;
}

function idOf(a: object): string | number {
  if (a instanceof ServedAnalysis) return a.id;
  let id = ids.get(a);
  if (id === undefined) ids.set(a, (id = nextId++));
  return id;
}

/**
 * Decisions the policy allowed to be reused (its `cache` directive), per session. The key holds
 * everything else the input is made of in this session: the analysis (so the SQL text, search_path,
 * catalog generation, name overlay and temporary relations), the message kind, the transaction status and the extras;
 * what the directive does not name in `across` is compared on lookup. The pipeline also checks the
 * bundle revision, and logs every reuse as a decision of its own.
 */
export class DecisionReuse {
  readonly #map = new Map<string, Entry>();
  /**
   * The last key made, with what it was made of: a session runs the same statement again and again, and
   * the same key (one string, hashed once) then serves them all. The search_path is compared by identity:
   * the tracker makes a new array whenever the path changes and never changes one it handed out.
   */
  #last: { analysis: AnalysisResult; message: string; txStatus: number; searchPath: readonly string[] | null; tail: string; key: ReuseKey } | undefined;

  key(analysis: AnalysisResult | undefined, message: string, txStatus: number, searchPath: readonly string[] | null, extra: Record<string, unknown>): ReuseKey | undefined {
    if (!analysis) return undefined;
    let tail = "";
    for (const k in extra) if (k !== "parameters") tail += `${k}=${JSON.stringify(extra[k])};`;
    const last = this.#last;
    if (last && last.analysis === analysis && last.message === message && last.txStatus === txStatus && last.searchPath === searchPath && last.tail === tail) return last.key;
    const rest = `\u0000${message}\u0000${txStatus}\u0000${searchPath === null ? "\u0001" : searchPath.join("\u0000")}\u0000${tail}`;
    const template = templateOf(analysis);
    // The template's statements differ from this one only in the constants of their text (analyse.ts).
    const key: ReuseKey = { exact: `${idOf(analysis)}${rest}`, ...(template ? { template: `t${idOf(template)}${rest}` } : {}) };
    this.#last = { analysis, message, txStatus, searchPath, tail, key };
    return key;
  }

  // `now` is read only where it is needed: a reused decision is set() again on every statement, and returns early.
  get(key: ReuseKey | undefined, parameters: unknown, budget: unknown, now?: number): Decision | undefined {
    if (key === undefined) return undefined;
    return this.#lookup(key.exact, parameters, budget, now) ?? (key.template !== undefined ? this.#lookup(key.template, parameters, budget, now) : undefined);
  }

  #lookup(k: string, parameters: unknown, budget: unknown, now: number | undefined): Decision | undefined {
    const e = this.#map.get(k);
    if (!e) return undefined;
    if (e.expires <= (now ?? Date.now())) {
      this.#map.delete(k);
      return undefined;
    }
    if (e.parameters !== undefined && e.parameters !== JSON.stringify(parameters ?? null)) return undefined;
    if (e.budget !== undefined && e.budget !== JSON.stringify(budget ?? null)) return undefined;
    return e.decision;
  }

  /**
   * Keeps a decision the policy marked reusable; never a fail-closed error or an adapter veto. Under the
   * template too when the policy lets the constants vary (`across: constants`).
   */
  set(key: ReuseKey | undefined, decision: Decision, parameters: unknown, budget: unknown, now?: number): void {
    const c = decision.cache;
    if (key === undefined || !c || decision.error_code || decision.dry_run || decision.reused_from) return;
    if (!c.across.includes("time")) return;
    const entry: Entry = {
      decision,
      expires: (now ?? Date.now()) + c.ttl_seconds * 1000,
      ...(c.across.includes("parameters") ? {} : { parameters: JSON.stringify(parameters ?? null) }),
      ...(c.across.includes("budget") ? {} : { budget: JSON.stringify(budget ?? null) }),
    };
    this.#put(key.exact, entry);
    if (key.template !== undefined && c.across.includes("constants")) this.#put(key.template, entry);
  }

  #put(k: string, e: Entry): void {
    if (this.#map.size >= CAPACITY && !this.#map.has(k)) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(k, e);
  }

  clear(): void {
    this.#map.clear();
  }
}
