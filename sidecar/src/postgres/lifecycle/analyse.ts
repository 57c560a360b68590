import { resolveAnalysis } from "../resolve.js";
import { analyze } from "../sql/index.js";
import { literalTemplate, type SqlTemplate } from "../sql/template.js";
import type { AnalysisResult, StatementFacts } from "../sql/types.js";
import type { SessionState } from "./state.js";
import { currentPrepared, refreshPrepared } from "./names.js";

const CAPACITY = 512;

/**
 * The facts every statement of one template shares (template.ts): those of the statement analysed first,
 * `sql` aside, kept only once they matched the facts of the template itself, in which each constant is a
 * parameter. Those are what regate decides a Parse on, where any value may come: facts that hold for a
 * parameter hold for every constant in its place. `false`: this template's constants change the facts.
 */
export interface SharedFacts {
  statements: Omit<StatementFacts, "sql">[];
  fingerprint: string;
  /** The statements with an `sql` member last, made once: served() copies these (see there). */
  withSql?: StatementFacts[];
}

/**
 * An analysis served from a template (served()): its statements are the template's facts plus `sql`. What
 * links it to its template lives in private members, which no spread copies (resolve.ts replaces the
 * statements of a copy) and no serialiser sees. These were WeakMaps keyed by the analysis; a new analysis per
 * statement made every young-generation collection walk their entries (simple query mode: one per transaction).
 */
export class ServedAnalysis implements AnalysisResult {
  declare parse_error?: string;
  declare names?: AnalysisResult["names"];
  declare taken?: string;
  statements: StatementFacts[];
  fingerprint: string;
  readonly #template: SharedFacts;
  /** The statements' JSON, once input-json.ts has made it. */
  #json: string | undefined;
  static #next = 0;
  readonly #id = `s${ServedAnalysis.#next++}`;

  constructor(statements: StatementFacts[], template: SharedFacts) {
    this.statements = statements;
    this.fingerprint = template.fingerprint;
    this.#template = template;
  }

  /** Its identity in decision-reuse keys (reuse.ts), apart from every other analysis's. */
  get id(): string {
    return this.#id;
  }

  template(): SharedFacts {
    return this.#template;
  }

  statementsJson(): string | undefined {
    return this.#json;
  }

  keepStatementsJson(json: string): void {
    this.#json = json;
  }
}

/** An analysis made by analyze() whose facts turned out to be its template's (kept so its decision serves the template). */
const sharing = new WeakMap<AnalysisResult, SharedFacts>();

/** The template an analysis was served from, or whose facts it was found to share (decision reuse across constants). */
export function templateOf(a: AnalysisResult): SharedFacts | undefined {
  return a instanceof ServedAnalysis ? a.template() : sharing.get(a);
}

/**
 * Analyses by everything they depend on: the SQL text, the search_path in effect, the catalog's
 * generation (bumped on any DDL regate sees or hears of) and the session's SQL-level prepared
 * statement and cursor overlay. A key that misses one of these serves facts about another table.
 * Templates are kept under the same dependencies, with their constants' kinds.
 */
export class AnalysisCache {
  readonly #map = new Map<string, AnalysisResult>();
  readonly #templates = new Map<string, SharedFacts | false>();
  #overlay = 0;
  /** Moves with each change to the session's temporary relations (what they are, what they hold). */
  #temporary = 0;
  /**
   * The entry served last, with the parts of its key: a session sends the same text again and again (every
   * extended-protocol execution parses it anew), and this finds it without building and hashing the key. The
   * search_path is compared by identity: the tracker makes a new array whenever the path may have changed and
   * never changes one it handed out, so the same array is the same path.
   */
  #last: { sql: string; searchPath: readonly string[] | null; generation: number; overlay: number; analysis: AnalysisResult } | undefined;
  /** factsStamp's last answer and what it was made of (the same identity rule for the path). */
  #stamp: { generation: number; searchPath: readonly string[] | null; temporary: number; text: string } | undefined;

  /** PREPARE, DECLARE, DEALLOCATE or DISCARD changed what names mean in this session. */
  overlayChanged(): void {
    this.#overlay++;
  }

  /** Changes with each overlayChanged(): facts taken under another value may name other statements. */
  get overlay(): number {
    return this.#overlay;
  }

  /**
   * The session made a temporary relation or stored into one (sql/temporary.ts): facts taken before may read
   * another relation or miss what it now holds. Drops them and moves every key and stamp.
   */
  temporaryChanged(): void {
    this.#temporary++;
    this.clear();
  }

  get temporary(): number {
    return this.#temporary;
  }

  key(sql: string, searchPath: readonly string[] | null, generation: number): string {
    return `${generation}\u0000${this.#overlay}\u0000${this.#temporary}\u0000${searchPath === null ? "\u0001" : searchPath.join("\u0000")}\u0000\u0000${sql}`;
  }

  get(key: string): AnalysisResult | undefined {
    return this.#map.get(key);
  }

  /** What get(key(sql, searchPath, generation)) answered last, when asked for exactly that again. */
  repeated(sql: string, searchPath: readonly string[] | null, generation: number): AnalysisResult | undefined {
    const l = this.#last;
    return l !== undefined && l.sql === sql && l.searchPath === searchPath && l.generation === generation && l.overlay === this.#overlay ? l.analysis : undefined;
  }

  /** `a` is what the cache holds for these key parts (a hit of get, or stored by set). */
  served(sql: string, searchPath: readonly string[] | null, generation: number, a: AnalysisResult): void {
    if (!isVolatile(a)) this.#last = { sql, searchPath, generation, overlay: this.#overlay, analysis: a };
  }

  set(key: string, a: AnalysisResult): void {
    // What a statement does to the session (SET, PREPARE, DDL...) is applied when it is allowed; a
    // cached copy would skip nothing, but such statements are rare and their facts change the key.
    if (isVolatile(a)) return;
    if (this.#map.size >= CAPACITY) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(key, a);
  }

  /** `${generation}\0${path}`, made again only when either changed (factsStamp, at every Bind). */
  stamp(generation: number, searchPath: readonly string[] | null): string {
    const st = this.#stamp;
    if (st !== undefined && st.generation === generation && st.searchPath === searchPath && st.temporary === this.#temporary) return st.text;
    // The temporary version only once there is one, so a session without temporary relations stamps as before.
    const temp = this.#temporary === 0 ? "" : `\u0002${this.#temporary}`;
    const text = `${generation}${temp}\u0000${searchPath === null ? "\u0001" : searchPath.join("\u0000")}`;
    this.#stamp = { generation, searchPath, temporary: this.#temporary, text };
    return text;
  }

  template(key: string): SharedFacts | false | undefined {
    return this.#templates.get(key);
  }

  setTemplate(key: string, shared: SharedFacts | false): void {
    if (this.#templates.size >= CAPACITY) this.#templates.delete(this.#templates.keys().next().value!);
    this.#templates.set(key, shared);
  }

  clear(): void {
    this.#map.clear();
    this.#templates.clear();
    this.#last = undefined;
  }
}

function isVolatile(a: AnalysisResult): boolean {
  return a.statements.some((s) => s.settings.length > 0 || s.kind === "prepare" || s.kind === "execute" || s.kind === "cursor" || s.kind === "fetch" || s.kind === "deallocate" || s.ddl);
}

/** A statement's own text as analyze() reports it: a single statement, trimmed, without its semicolon. */
function statementText(sql: string): string {
  return sql.trim().replace(/;\s*$/, "").trimEnd();
}

const withoutSql = (a: AnalysisResult): Omit<StatementFacts, "sql">[] => a.statements.map(({ sql: _sql, ...rest }) => rest);

/**
 * Decides whether `template` may share `instance`'s facts: the instance parsed, is one statement that
 * changes nothing in the session, reports its text as statementText does, and its facts equal the
 * template's (each constant a parameter). Anything else, and the template is remembered as not shareable.
 */
function verdict(instance: AnalysisResult, ofTemplate: AnalysisResult, sql: string): SharedFacts | false {
  if (instance.parse_error !== undefined || ofTemplate.parse_error !== undefined) return false;
  if (instance.statements.length !== 1 || isVolatile(instance)) return false;
  // A served copy does not carry what the statement stores in temporary relations (applyAllowed needs it).
  if (instance.temporary) return false;
  // Facts that read the constants' values (`id + 1 = id + 1` is no WHERE, `id + 1 = id + 2` is one) hold for
  // this statement's constants only, and the template's own facts (each constant a parameter) for none.
  if (instance.constant_values || ofTemplate.constant_values) return false;
  if (instance.statements[0]!.sql !== statementText(sql)) return false;
  const facts = withoutSql(instance);
  if (JSON.stringify(facts) !== JSON.stringify(withoutSql(ofTemplate))) return false;
  return { statements: facts, fingerprint: instance.fingerprint };
}

function served(shared: SharedFacts, sql: string): AnalysisResult {
  const text = statementText(sql);
  // `{ ...facts, sql }` (sql last, as input-json.ts expects) makes a new hidden class per call, about 1.4 µs per
  // statement; a copy of facts that already end in `sql`, then assigned, costs about 70 ns.
  const shapes = (shared.withSql ??= shared.statements.map((f) => ({ ...f, sql: "" }) as StatementFacts));
  const statements = shapes.map((f) => {
    const st = { ...f };
    st.sql = text;
    return st;
  });
  return new ServedAnalysis(statements, shared);
}

/** The catalog generation and search_path facts taken now are taken under. */
export function factsStamp(s: SessionState): string {
  return s.analyses.stamp(s.ctx.catalog.generation, s.searchPath.current);
}

/** Stage 2: statement text -> facts, through the cache; asynchronous when the catalog must be asked. */
export function analyse(s: SessionState, sql: string, attempt = 0, refresh = true): AnalysisResult | Promise<AnalysisResult> {
  const catalog = s.ctx.catalog;
  const generation = catalog.generation;
  const path = s.searchPath.current;
  // Only what was cached comes back here, so it was under the size limit when it was analysed.
  const again = s.analyses.repeated(sql, path, generation);
  if (again) return again;
  const max = s.ctx.maxStatementBytes;
  if (Buffer.byteLength(sql) > max) return { statements: [], fingerprint: "", parse_error: `statement is longer than ${max} bytes` };
  const key = s.analyses.key(sql, path, generation);
  const temporary = s.analyses.temporary;
  const cached = s.analyses.get(key);
  if (cached) {
    s.analyses.served(sql, path, generation, cached);
    return cached;
  }
  const stamp = factsStamp(s);
  const stamped = (a: AnalysisResult): AnalysisResult => {
    a.taken = a.statements.some((st) => st.settings.some((c) => c.name === "search_path" || c.name === "all" || c.name === "*")) ? "" : stamp;
    return a;
  };
  const template = literalTemplate(sql);
  const templateKey = template ? s.analyses.key(`${template.kinds}\u0000${template.text}`, s.searchPath.current, generation) : undefined;
  const shared = templateKey !== undefined ? s.analyses.template(templateKey) : undefined;
  if (shared) {
    const a = stamped(served(shared, sql));
    s.analyses.set(key, a);
    return a;
  }
  // SQL prepared statements taken under another stamp are taken again first (a PREPARE's body cannot name one).
  const refreshing = refresh && s.prepared.size > 0 ? refreshPrepared(s, stamp, (text) => analyse(s, text, 0, false)) : undefined;
  if (refreshing) return refreshing.then(() => analyse(s, sql, attempt, false));
  const prepared = currentPrepared(s, stamp);
  const run = (text: string, searchPath?: string[]) =>
    stamped(analyze(text, { searchPath: searchPath ?? s.searchPath.current, user: s.user, prepared, cursors: s.cursors, catalog, ...(s.temporary.size > 0 ? { temporary: s.temporary } : {}) }));
  let resolved: AnalysisResult | Promise<AnalysisResult>;
  try {
    resolved = resolveAnalysis(sql, run, catalog);
  } catch (err) {
    return catalogFailed(s, err);
  }
  if (!(resolved instanceof Promise)) {
    s.analyses.set(key, resolved);
    s.analyses.served(sql, path, generation, resolved);
    if (template && shared === undefined) learnTemplate(s, template, templateKey!, resolved, sql, run);
    return resolved;
  }
  return resolved.then(
    (a) => {
      if (catalog.generation === generation && s.searchPath.current === path && s.analyses.temporary === temporary) {
        s.analyses.set(key, a);
        return a;
      }
      // The catalog changed while this analysis waited on it: its facts may describe the old one. Or the
      // search_path did (the server answered a SET meanwhile): the facts taken after the wait are under the new
      // one, but the key and the stamp (a Bind's `taken`) name the old one, and would serve them when it is back.
      if (attempt < 2) return analyse(s, sql, attempt + 1);
      return catalogFailed(s, new Error("catalog kept changing during analysis"));
    },
    (err: unknown) => catalogFailed(s, err),
  );
}

/**
 * Analyses the template itself (once per template) and records whether statements of this template may
 * share `instance`'s facts. Only when that analysis needs nothing new from the catalog (the instance's
 * own lookups have just filled it): otherwise the next statement of the template tries again.
 */
function learnTemplate(s: SessionState, template: SqlTemplate, templateKey: string, instance: AnalysisResult, sql: string, run: (text: string) => AnalysisResult): void {
  let ofTemplate: AnalysisResult | Promise<AnalysisResult>;
  try {
    ofTemplate = resolveAnalysis(template.text, run, s.ctx.catalog);
  } catch {
    return;
  }
  if (ofTemplate instanceof Promise) {
    ofTemplate.catch(() => undefined);
    return;
  }
  const shared = verdict(instance, ofTemplate, sql);
  s.analyses.setTemplate(templateKey, shared);
  // This statement's own facts are the shared ones: its decision can already serve the template.
  if (shared) sharing.set(instance, shared);
}

function catalogFailed(s: SessionState, err: unknown): AnalysisResult {
  s.log.warn({ err }, "catalog lookup failed; denying");
  return { statements: [], fingerprint: "", parse_error: "regate could not reach the catalog to resolve names" };
}
