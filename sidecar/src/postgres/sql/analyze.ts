// analyze(): SQL text -> facts per statement. Statements of one Query message run in order, so a
// PREPARE, DECLARE or search_path change early in the message applies to the statements after it.
import { RegateError } from "../../errors.js";
import type { AnalysisContext, AnalysisResult, CatalogLookup, NameEffect, StatementFacts } from "./types.js";
import { parseSql, parserReady, type RawStatement } from "./parser.js";
import { applyChanges, temporaryChanges, type TemporaryChange, type TemporaryRelations } from "./temporary.js";
import { analyzeStatement, type SessionView } from "./statement.js";
import { fingerprintStatements, fingerprintText } from "./fingerprint.js";
import { parseSearchPath } from "./settings.js";
import { str } from "./node.js";

function memoCatalog(catalog: CatalogLookup | undefined): CatalogLookup | undefined {
  if (!catalog) return undefined;
  const cache = new Map<string, unknown>();
  // One answer per question for the whole analysis, even if the catalog's entry ages meanwhile.
  const memo = <T>(key: string, ask: () => T): T => {
    if (!cache.has(key)) cache.set(key, ask());
    return cache.get(key) as T;
  };
  return {
    columns: (schema, table) => memo(`c\u0000${schema}\u0000${table}`, () => catalog.columns(schema, table)),
    sequenceOwner: (schema, name) => memo(`o\u0000${schema}\u0000${name}`, () => catalog.sequenceOwner?.(schema, name)),
    serialSequence: (schema, table, column) => memo(`s\u0000${schema}\u0000${table}\u0000${column}`, () => catalog.serialSequence?.(schema, table, column)),
    partitioned: (schema, table) => memo(`p\u0000${schema}\u0000${table}`, () => catalog.partitioned?.(schema, table)),
  };
}

/** Named objects of the session as later statements of the same message see them. */
class Overlay {
  private readonly added = new Map<string, StatementFacts>();
  private readonly removed = new Set<string>();
  private allRemoved = false;

  constructor(private readonly base: ReadonlyMap<string, StatementFacts> | undefined) {}

  get(name: string): StatementFacts | undefined {
    const own = this.added.get(name);
    if (own) return own;
    if (this.allRemoved || this.removed.has(name)) return undefined;
    return this.base?.get(name);
  }

  /** Every name's facts, as later statements of the message see them. */
  *values(): Iterable<StatementFacts> {
    yield* this.added.values();
    if (this.allRemoved || !this.base) return;
    for (const [name, f] of this.base) if (!this.added.has(name) && !this.removed.has(name)) yield f;
  }

  set(name: string, f: StatementFacts): void {
    this.added.set(name, f);
    this.removed.delete(name);
  }

  remove(name: string | undefined): void {
    if (name === undefined) {
      this.added.clear();
      this.allRemoved = true;
      return;
    }
    this.added.delete(name);
    this.removed.add(name);
  }
}

class MessageSession implements SessionView {
  private readonly preparedStatements: Overlay;
  private readonly portals: Overlay;
  searchPath: string[] | null;
  /** The session's temporary relations, with what this message's statements store in them (copied on the first). */
  temporary: TemporaryRelations | undefined;
  private changes: TemporaryChange[] | undefined;
  private pathChanged = false;
  private pathChangedLocally = false;

  constructor(ctx: AnalysisContext) {
    this.preparedStatements = new Overlay(ctx.prepared);
    this.portals = new Overlay(ctx.cursors);
    this.searchPath = ctx.searchPath;
    this.temporary = ctx.temporary;
  }

  /** What this message's statements store in the temporary schema, if anything. */
  created(): TemporaryChange[] | undefined {
    return this.changes;
  }

  /** Some statement's facts depend on the values of its constants, not only on where they stand. */
  constantValues = false;

  constantValuesRead(): void {
    this.constantValues = true;
  }

  prepared(name: string): StatementFacts | undefined {
    return this.preparedStatements.get(name);
  }

  cursor(name: string): StatementFacts | undefined {
    return this.portals.get(name);
  }

  holdCursors(): StatementFacts[] {
    return [...this.portals.values()].filter(declaresHold);
  }

  after(raw: RawStatement, f: StatementFacts, statements: readonly StatementFacts[]): void {
    const b = raw.body;
    // A later statement of the same message finds what this one made in pg_temp.
    const made = f.writes ? temporaryChanges(raw, f, statements.length - 1, this.temporary, this.searchPath) : [];
    if (made.length > 0) {
      (this.changes ??= []).push(...made);
      const all = new Map(this.temporary);
      applyChanges(all, made, statements);
      this.temporary = all;
    }
    switch (raw.node) {
      case "PrepareStmt":
        this.preparedStatements.set(str(b.name) ?? "", f);
        break;
      case "DeallocateStmt":
        this.preparedStatements.remove(b.isall === true ? undefined : str(b.name));
        break;
      case "DeclareCursorStmt":
        this.portals.set(str(b.portalname) ?? "", f);
        break;
      case "ClosePortalStmt":
        this.portals.remove(str(b.portalname));
        break;
      case "TransactionStmt": {
        const kind = str(b.kind) ?? "";
        // A change made in this message may be undone when its transaction ends.
        const ends = kind === "TRANS_STMT_COMMIT" || kind === "TRANS_STMT_PREPARE";
        const undoes = kind.startsWith("TRANS_STMT_ROLLBACK") || kind === "TRANS_STMT_ABORT";
        if ((undoes && this.pathChanged) || (ends && this.pathChangedLocally)) this.searchPath = null;
        break;
      }
    }
    // A PREPARE or DECLARE carries the settings its EXECUTE or FETCH will change.
    if (raw.node === "PrepareStmt" || raw.node === "DeclareCursorStmt") return;
    for (const s of f.settings) {
      if (s.name !== "search_path" && s.name !== "all" && s.name !== "*") continue;
      this.pathChanged = true;
      if (s.local) this.pathChangedLocally = true;
      const known = s.name === "search_path" && s.action !== "reset" && s.value !== null;
      // RESET goes back to a default this analysis does not know.
      const next = known ? parseSearchPath(s.value as string) : null;
      // A SET runs or fails the message; set_config() may run zero times (no rows, a false branch),
      // so afterwards either path is possible.
      this.searchPath = s.action === "set_config" && next && this.searchPath ? [...new Set([...next, ...this.searchPath])] : next;
    }
  }
}

// parsenodes.h
const CURSOR_OPT_HOLD = 0x20;
const holds = new WeakMap<StatementFacts, boolean>();

/**
 * Whether a cursor's facts come from DECLARE ... WITH HOLD. The facts keep the DECLARE's text, which is
 * read again with the one parser (once per facts object); a cursor made by a protocol Bind is not in the
 * cursor map, and a text that no longer parses as a DECLARE counts as holding (the safe side).
 */
function declaresHold(f: StatementFacts): boolean {
  let hold = holds.get(f);
  if (hold === undefined) {
    const parsed = parseSql(f.sql);
    const raw = parsed.ok && parsed.statements.length === 1 ? parsed.statements[0] : undefined;
    hold = raw?.node !== "DeclareCursorStmt" || (Number(raw.body.options ?? 0) & CURSOR_OPT_HOLD) !== 0;
    holds.set(f, hold);
  }
  return hold;
}

function parseErrorFacts(sql: string, message: string): StatementFacts {
  return {
    kind: "parse_error",
    node: "",
    sql,
    tables: [],
    columns: [],
    outputs: [],
    functions: [],
    operators: [],
    has_where: null,
    writes: false,
    write_inputs: [],
    write_inputs_unknown: false,
    row_count_inputs: [],
    row_count_unknown: false,
    ddl: null,
    settings: [],
    settings_read: [],
    role_change: false,
    copy: null,
    explain_analyze: false,
    opaque: false,
    unknown: ["statement could not be parsed"],
    parse_error: message,
  };
}

/** Facts for every statement in `sql`. Bad SQL gives a parse_error statement; only a missing init throws. */
export function analyze(sql: string, ctx: AnalysisContext): AnalysisResult {
  if (!parserReady()) throw new RegateError("INTERNAL", "initSqlParser() must complete before analyze()");
  const parsed = parseSql(sql);
  if (!parsed.ok) {
    return { statements: [parseErrorFacts(sql, parsed.error)], fingerprint: fingerprintText(sql), parse_error: parsed.error };
  }
  const session = new MessageSession(ctx);
  const catalog = memoCatalog(ctx.catalog);
  const statements: StatementFacts[] = [];
  let names: (NameEffect | undefined)[] | undefined;
  for (const [i, raw] of parsed.statements.entries()) {
    const f = analyzeStatement(raw, { searchPath: session.searchPath, user: ctx.user, catalog, temporary: session.temporary }, session);
    statements.push(f);
    session.after(raw, f, statements);
    const effect = nameEffect(raw);
    if (effect) (names ??= [])[i] = effect;
  }
  const temporary = session.created();
  return {
    statements,
    fingerprint: fingerprintStatements(parsed.statements, sql, session.constantValues),
    ...(names ? { names } : {}),
    ...(temporary ? { temporary } : {}),
    ...(session.constantValues ? { constant_values: true as const } : {}),
  };
}

/** What a statement does to the session's names, as the server reads them (its parse tree). */
function nameEffect(raw: RawStatement): NameEffect | undefined {
  const b = raw.body;
  switch (raw.node) {
    case "PrepareStmt":
      return { space: "statement", define: true, name: str(b.name) ?? "" };
    case "DeallocateStmt":
      return { space: "statement", define: false, name: b.isall === true ? null : (str(b.name) ?? null) };
    case "DeclareCursorStmt":
      return { space: "cursor", define: true, name: str(b.portalname) ?? "", hold: (Number(b.options ?? 0) & CURSOR_OPT_HOLD) !== 0 };
    case "ClosePortalStmt":
      return { space: "cursor", define: false, name: str(b.portalname) ?? null };
    case "DiscardStmt":
      return str(b.target) === "DISCARD_ALL" ? { space: "all" } : undefined;
    case "TransactionStmt": {
      const kind = str(b.kind) ?? "";
      if (kind === "TRANS_STMT_ROLLBACK" || kind === "TRANS_STMT_ROLLBACK_TO") return { space: "transaction", ends: "rollback" };
      if (kind === "TRANS_STMT_COMMIT" && b.chain === true) return { space: "transaction", ends: "chain" };
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The cache fingerprint alone (parses the SQL, analyses nothing): with constants replaced even where analyze()
 * keeps them because a fact read their values (AnalysisResult.constant_values).
 */
export function fingerprint(sql: string): string {
  if (!parserReady()) throw new RegateError("INTERNAL", "initSqlParser() must complete before fingerprint()");
  const parsed = parseSql(sql);
  return parsed.ok ? fingerprintStatements(parsed.statements, sql) : fingerprintText(sql);
}
