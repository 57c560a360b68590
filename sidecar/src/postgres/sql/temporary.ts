// The session's temporary relations. PostgreSQL looks an unqualified relation name up in the session's own
// temporary schema first (unless the search_path lists pg_temp later), and regate's catalog connection cannot
// see that schema: it is another backend's. regate remembers instead every name an allowed statement may have
// put there, with what the statements it let through stored in it (the tables read and the lineage of the
// values stored: write_inputs, a view's body). A later reference to such a relation reads those tables and
// carries that lineage, so it is masked and judged as they are. An unqualified name that a permanent relation
// on the path also has is refused: which one the server reads depends on whether the temporary one still
// exists (a rollback, a failed CREATE, DROP, ON COMMIT DROP), which regate does not follow; only a DISCARD TEMP
// or ALL the server ran alone and committed starts the count over (lifecycle/temporary-settle.ts).
import { columnKey } from "./lineage.js";
import { bodyOf, rec, str } from "./node.js";
import type { RawStatement } from "./parser.js";
import type { ColumnRef, RelationRef, StatementFacts } from "./types.js";

/** What a temporary relation may hold, from every statement regate let through that stored into it. */
export interface TemporaryHolds {
  /** Relations read by those statements (their rows chose or made what was stored). */
  tables: readonly RelationRef[];
  /** Lineage of the values stored. */
  cols: readonly ColumnRef[];
  /** Some value stored has a lineage regate could not follow. */
  unknown: boolean;
}

/** Relation name -> what it may hold; a name is not forgotten, nor what it held, but by a DISCARD (see above). */
export type TemporaryRelations = ReadonlyMap<string, TemporaryHolds>;

/**
 * A relation statement `statement` of a message puts in the temporary schema or stores into: it holds what that
 * statement stores (holdsOf its facts, taken once the analysis is final), or, renamed, what `renamedFrom` held.
 */
export interface TemporaryChange {
  name: string;
  statement: number;
  renamedFrom?: string;
}

const TEMP_SCHEMA = /^pg_temp(_[0-9]+)?$/;
/** RenameStmt kinds that rename the relation itself (not a column, constraint or trigger of it). */
const RENAMED_RELATIONS = new Set(["OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_SEQUENCE", "OBJECT_FOREIGN_TABLE", "OBJECT_MATVIEW"]);

export function isTemporarySchema(schema: string): boolean {
  return TEMP_SCHEMA.test(schema);
}

/** The relation a CREATE TABLE, SEQUENCE, VIEW, TABLE AS or SELECT INTO makes, from its parse tree. */
function createdRangeVar(raw: RawStatement): Record<string, unknown> | undefined {
  const b = raw.body;
  const of = (v: unknown) => bodyOf(v, "RangeVar") ?? rec(v);
  switch (raw.node) {
    case "CreateStmt":
      return of(b.relation);
    case "CreateSeqStmt":
      return of(b.sequence);
    case "ViewStmt":
      return of(b.view);
    case "CreateTableAsStmt":
      return of(bodyOf(b.into, "IntoClause")?.rel);
    case "SelectStmt":
      return of(bodyOf(b.intoClause, "IntoClause")?.rel);
    default:
      return undefined;
  }
}

/**
 * Whether a created relation may land in pg_temp: TEMP, a pg_temp schema, or an unqualified name with pg_temp on
 * the path (it goes to the first schema of the path that exists) or the path unknown.
 */
function createsTemporary(rv: Record<string, unknown>, path: readonly string[] | null): boolean {
  const schema = str(rv.schemaname);
  if (str(rv.relpersistence) === "t") return true;
  if (schema !== undefined) return isTemporarySchema(schema);
  return path === null || path.some(isTemporarySchema);
}

/**
 * What an allowed statement stores into temporary relations: CREATE [TEMP] TABLE, VIEW, SEQUENCE, CREATE TABLE
 * AS, SELECT INTO into pg_temp, a write to a relation resolved there (or, the path unknown, to a name the session
 * has there), and ALTER ... RENAME of one (the new name holds what the old did). `path`: the search_path the
 * statement ran under (null: unknown).
 */
export function temporaryChanges(
  raw: RawStatement,
  f: StatementFacts,
  statement: number,
  known: TemporaryRelations | undefined,
  path: readonly string[] | null,
): TemporaryChange[] {
  const targets = new Set<string>();
  const created = createdRangeVar(raw);
  const createdName = str(created?.relname);
  if (created && createdName !== undefined && createsTemporary(created, path)) targets.add(createdName);
  for (const t of f.tables) {
    if (t.access !== "write") continue;
    if (t.schema === null ? known?.has(t.name) === true : isTemporarySchema(t.schema)) targets.add(t.name);
  }
  const out: TemporaryChange[] = [...targets].map((name) => ({ name, statement }));
  if (raw.node === "RenameStmt" && RENAMED_RELATIONS.has(str(raw.body.renameType) ?? "")) {
    const rv = bodyOf(raw.body.relation, "RangeVar") ?? rec(raw.body.relation);
    const schema = str(rv?.schemaname);
    const name = str(rv?.relname);
    const newname = str(raw.body.newname);
    if (name !== undefined && newname !== undefined && (schema === undefined ? known?.has(name) === true : isTemporarySchema(schema))) {
      out.push({ name: newname, statement, renamedFrom: name });
    }
  }
  return out;
}

/** What a statement stores: the relations it reads (not temporary ones: theirs are among them) and its write_inputs. */
export function holdsOf(f: StatementFacts): TemporaryHolds {
  return {
    tables: f.tables.filter((t) => t.access === "read" && !(t.schema !== null && isTemporarySchema(t.schema))),
    cols: f.write_inputs,
    unknown: f.write_inputs_unknown,
  };
}

const EMPTY: TemporaryHolds = { tables: [], cols: [], unknown: false };

/** `a` and `b` together; `a` itself when `b` adds nothing. */
export function mergeHolds(a: TemporaryHolds | undefined, b: TemporaryHolds): TemporaryHolds {
  if (!a) return { tables: [...b.tables], cols: [...b.cols], unknown: b.unknown };
  const tableKey = (t: RelationRef) => `${t.schema ?? ""}\u0000${t.name}`;
  const tables = new Map(a.tables.map((t) => [tableKey(t), t]));
  const cols = new Map(a.cols.map((c) => [columnKey(c), c]));
  for (const t of b.tables) if (!tables.has(tableKey(t))) tables.set(tableKey(t), t);
  for (const c of b.cols) if (!cols.has(columnKey(c))) cols.set(columnKey(c), c);
  if (tables.size === a.tables.length && cols.size === a.cols.length && (a.unknown || !b.unknown)) return a;
  return { tables: [...tables.values()], cols: [...cols.values()], unknown: a.unknown || b.unknown };
}

/** `changes` applied to `map` in place, `statements` being the message's facts; true when any name or what it holds is new. */
export function applyChanges(map: Map<string, TemporaryHolds>, changes: readonly TemporaryChange[], statements: readonly StatementFacts[]): boolean {
  let changed = false;
  for (const { name, statement, renamedFrom } of changes) {
    const f = statements[statement];
    // The facts of a statement that stores are always there; missing, it is taken as storing what regate cannot follow.
    const holds = renamedFrom !== undefined ? (map.get(renamedFrom) ?? EMPTY) : f ? holdsOf(f) : { ...EMPTY, unknown: true };
    const before = map.get(name);
    const after = mergeHolds(before, holds);
    if (after !== before) {
      map.set(name, after);
      changed = true;
    }
  }
  return changed;
}

/** What the agent is told when an unqualified name may be its temporary relation or a permanent one. */
export function shadowMessage(name: string, permanent: string): string {
  return `${name} may name this session's temporary relation, which the server finds before ${permanent}: name it pg_temp.${name} or ${permanent}`;
}
