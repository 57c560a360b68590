import { serialize } from "pg-protocol";
import type { Veto } from "../../decision/index.js";
import { decodeNotice, errorResponse, type Frame } from "../protocol/index.js";
import type { AnalysisResult } from "../sql/types.js";
import { budgetedError } from "./budget-text.js";
import { commitsBlock, declaresHoldCursor, mayChangeRows, wrappable } from "./changes-scope.js";
import { maskNotice } from "./mask-rows.js";
import type { ChangesBase, SessionState } from "./state.js";
import type { Statement } from "./statement.js";

// The rows_changed_per_transaction budget. What a WHERE restricts cannot be decided from the text
// (`id > -1`, a subquery over the target), and functions, triggers and cascades change rows no statement
// names; the server counts them all in pg_stat_xact_user_tables. Those counters are the backend's stats not
// yet flushed, which may still hold earlier transactions' rows (PostgreSQL flushes them at most once a
// second, and never inside a transaction): so regate reads them once when the transaction starts to change
// rows (its own wrap's BEGIN, or the client's block before its first such group), and after each group that
// may change rows counts the difference in the same transaction. Over the bound the count itself fails, so
// the transaction is aborted before anything can commit it: regate's COMMIT of its own wrap then rolls back,
// and a client's block is left failed. Every name is qualified: the session's search_path may put the
// agent's own functions or operators before pg_catalog's.
//
// The counters miss what empties or replaces a table's storage: TRUNCATE, DROP TABLE, a rewrite (ALTER COLUMN
// TYPE, ADD COLUMN with a volatile default, CLUSTER, SET TABLESPACE). TRUNCATE as a statement is refused
// (uncountable), but a function, DO block or trigger runs any of them unseen, and a TRUNCATE even clears the
// rows the transaction already counted on that table. Each gives the table a new relfilenode or removes it, so
// the base also takes a digest of the permanent user tables then (how many, the sum of their relfilenodes, the
// largest OID), and each count checks the tables up to that OID against it: a new relfilenode is a fresh OID,
// larger than every earlier one, so the sum only grows; a table created since has a larger OID and is left out.
// Temporary tables are left out too: they hold only the session's own rows. ALTER TABLE DROP COLUMN (or a DROP
// DOMAIN ... CASCADE that takes a column with it, or a composite type's DROP ATTRIBUTE, whose field lives in other
// tables' rows) empties a column of every row without new storage: the server only marks the attribute dropped,
// an update of its pg_attribute row. The base also takes the transaction's count of updated pg_attribute rows; when
// a count finds it moved, it looks for a dropped attribute of those tables and types that this transaction (or one
// of its subtransactions) wrote: one whose writer is still in progress (WRITTEN_HERE). The scan of pg_attribute is
// paid only after DDL.

const MARK = "regate_rows_changed";
/** The count as the failed cast quotes it (the quotes are the server's own, translated with lc_messages). */
const COUNTED = new RegExp(`${MARK} (-?\\d+) (\\w+) (\\w+)`);
// The counters of pg_stat_xact_user_tables, read from pg_class directly: the view's joins cost the server 0.5 ms
// a read more (its plan, and every catalog table scanned). Tables, materialized views and partitioned tables
// outside pg_catalog (OID 11); TOAST tables (relkind t) are left out as the view leaves them out.
const changes = (oid: string) =>
  `pg_catalog.int8pl(pg_catalog.int8pl(pg_catalog.pg_stat_get_xact_tuples_inserted(${oid}), ` +
  `pg_catalog.pg_stat_get_xact_tuples_updated(${oid})), pg_catalog.pg_stat_get_xact_tuples_deleted(${oid}))`;
// Large objects too, though their rows live in pg_catalog (pg_largeobject, one row per 2 kB page, and
// pg_largeobject_metadata, one per object): lo_put, lo_truncate and lo_unlink change stored data as DELETE does.
const LARGE_OBJECTS = `pg_catalog.int8pl(${changes("2613")}, ${changes("2995")})`;
const COUNTERS = `pg_catalog.numeric_add(COALESCE(pg_catalog.sum(${changes("c.oid")}), 0), CAST(${LARGE_OBJECTS} AS pg_catalog.numeric))`;
// Composite types (relkind c) are in the scan for the largest OID alone (their counters are 0): one made after the
// last table and given to an older table's column (ALTER TABLE ... ADD COLUMN) holds that table's data in its
// attributes, and its DROP ATTRIBUTE is looked for up to that OID (droppedHere).
const RELATIONS = "FROM pg_catalog.pg_class c WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,m,p,c}'::pg_catalog.\"char\"[]) AND c.relnamespace OPERATOR(pg_catalog.<>) 11";
const PERMANENT = "c.relpersistence OPERATOR(pg_catalog.<>) 't'::pg_catalog.\"char\"";
/** The tables of the digest, in the same scan: not materialized views (derived rows), not temporary tables. */
const KEPT = `c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::pg_catalog."char"[]) AND ${PERMANENT}`;
/** What the largest OID is taken over: those tables and the permanent composite types. */
const OLD = `c.relkind OPERATOR(pg_catalog.<>) 'm'::pg_catalog."char" AND ${PERMANENT}`;

/** pg_attribute's OID, and FirstNormalObjectId: every object a user creates has an OID from here on (until the counter wraps). */
const PG_ATTRIBUTE = 1249;
const FIRST_USER_OID = 16384;

/**
 * Whether the row version `a` was written by this transaction or one of its subtransactions. Of the row versions
 * this transaction sees, those whose writer is still in progress are its own; a newer ID alone (age(xmin) <= 0) is
 * also every transaction that began after this one's and committed meanwhile: a column another session dropped
 * then refused this transaction's next statement. The 32-bit xmin is placed in the 64-bit IDs relative to this
 * transaction's own ID (its own and its subtransactions' are no older, and less than 2^31 newer); none assigned
 * yet (nothing written), an older one or a frozen one: not its own.
 */
const CURRENT_XID = "CAST(CAST(pg_catalog.pg_current_xact_id_if_assigned() AS pg_catalog.text) AS pg_catalog.int8)";
const AHEAD =
  `pg_catalog.int8mod(pg_catalog.int8pl(pg_catalog.int8mi(CAST(CAST(a.xmin AS pg_catalog.text) AS pg_catalog.int8), ` +
  `pg_catalog.int8mod(${CURRENT_XID}, CAST(4294967296 AS pg_catalog.int8))), CAST(4294967296 AS pg_catalog.int8)), CAST(4294967296 AS pg_catalog.int8))`;
const PLACED = `pg_catalog.int8pl(${CURRENT_XID}, ${AHEAD})`;
// age() first: no older than the transaction's first ID as the server reads it. A frozen row version keeps its xmin,
// which 2^31 IDs later age() reads as newer again, and placed after this transaction's ID it may be one not yet
// assigned, which pg_xact_status takes for an error: so only IDs less than 2^20 ahead are asked about, and one further
// ahead is taken for this transaction's own, as age() alone did (a refusal, never an error).
const WRITTEN_HERE =
  `CASE WHEN pg_catalog.age(a.xmin) OPERATOR(pg_catalog.>) 0 OR ${AHEAD} OPERATOR(pg_catalog.>=) CAST(2147483648 AS pg_catalog.int8) THEN false ` +
  `WHEN ${AHEAD} OPERATOR(pg_catalog.>=) CAST(1048576 AS pg_catalog.int8) THEN true ` +
  `ELSE pg_catalog.texteq(pg_catalog.pg_xact_status(CAST(CAST(${PLACED} AS pg_catalog.text) AS pg_catalog.xid8)), 'in progress') END`;

/** A column of a permanent table or composite type up to `maxOid` that this transaction marked dropped. */
function droppedHere(maxOid: string): string {
  return (
    "EXISTS (SELECT FROM pg_catalog.pg_attribute a, pg_catalog.pg_class t " +
    `WHERE a.attrelid OPERATOR(pg_catalog.>=) '${FIRST_USER_OID}'::pg_catalog.oid AND a.attrelid OPERATOR(pg_catalog.<=) '${maxOid}'::pg_catalog.oid ` +
    `AND a.attisdropped AND ${WRITTEN_HERE} ` +
    "AND t.oid OPERATOR(pg_catalog.=) a.attrelid AND t.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,c}'::pg_catalog.\"char\"[]) " +
    "AND t.relpersistence OPERATOR(pg_catalog.<>) 't'::pg_catalog.\"char\")"
  );
}

/**
 * One scan of pg_class: the counters' sum `n`; `k`, `f`: the digest's count and relfilenode sum, over the tables up
 * to `maxOid`; `m`: the largest OID of those tables and of the composite types; `u`: the pg_attribute rows this
 * transaction updated.
 */
function scan(maxOid?: string): string {
  const kept = maxOid === undefined ? KEPT : `${KEPT} AND c.oid OPERATOR(pg_catalog.<=) '${maxOid}'::pg_catalog.oid`;
  return (
    `SELECT ${COUNTERS} AS n, pg_catalog.count(*) FILTER (WHERE ${kept}) AS k, ` +
    `pg_catalog.sum(CAST(c.relfilenode AS pg_catalog.int8)) FILTER (WHERE ${kept}) AS f, ` +
    `pg_catalog.max(CAST(c.oid AS pg_catalog.int8)) FILTER (WHERE ${OLD}) AS m, ` +
    `pg_catalog.pg_stat_get_xact_tuples_updated(${PG_ATTRIBUTE}) AS u ${RELATIONS}`
  );
}

const BASE_SQL = `SELECT pg_catalog.concat_ws(' ', COALESCE(n, 0), k, COALESCE(f, 0), COALESCE(m, 0), u) FROM (${scan()}) c`;
const BASE_NAME = "regate_rows_base";
const BASE_QUERY = serialize.query(BASE_SQL);
const BASE_EXTENDED = Buffer.concat(ownExtended(BASE_NAME, BASE_SQL));

/** Reads the counters before the transaction's first change, unless already read (or asked) in it. */
export function readChangesBase(s: SessionState, extended: boolean): void {
  if (!s.ctx.budget.changesBudgeted || s.changesBase !== undefined) return;
  s.changesBase = "asked";
  if (!extended) {
    s.pending.push({ kind: "internal", final: false, changesBase: true });
    return s.toServer(BASE_QUERY);
  }
  // Inside the client's batch, under a name of regate's own (ownExtended); the Execute's DataRow is the base.
  expectOwnExtended(s, { changesBase: true });
  s.toServer(BASE_EXTENDED);
}

const BASE_TEXT = /^(\d+) (\d+) (\d+) (\d+) (\d+)$/;

/** The base was asked inside an extended batch and the server has not answered it yet. */
export function baseInFlight(s: SessionState): boolean {
  return s.changesBase === "asked" && s.pending.some((p) => p.kind === "internal" && p.changesBase === true);
}

/** The base's one value, from its DataRow: the counters' sum and the tables' digest, space separated. */
export function noteChangesBase(s: SessionState, f: Frame): void {
  // DataRow: int16 count, int32 length, the text.
  const len = f.body.readInt32BE(2);
  const m = len > 0 ? BASE_TEXT.exec(f.body.toString("latin1", 6, 6 + len)) : null;
  if (!m || !Number.isSafeInteger(Number(m[1]))) return;
  s.changesBase = { rows: Number(m[1]), tables: m[2]!, filenodes: m[3]!, maxOid: m[4]!, attributes: m[5]! };
}

/**
 * The count: no row when within the bound and the tables kept; fails, quoting the count and the tables' state,
 * when over the bound, when nothing is counted, or when a table of the base's digest was truncated, rewritten or
 * dropped ("changed"). Without a base (its read failed, in a block the client then saved with ROLLBACK TO
 * SAVEPOINT) the rows count from 0, more than the transaction changed, and the tables cannot be checked ("unknown").
 */
function countSql(s: SessionState): string {
  const limit = s.ctx.budget.limits.rows_changed_per_transaction;
  const base: ChangesBase | undefined = typeof s.changesBase === "object" ? s.changesBase : undefined;
  const changed = `pg_catalog.numeric_sub(COALESCE(n, 0), CAST(${base?.rows ?? 0} AS pg_catalog.numeric))`;
  const kept = base
    ? `(k OPERATOR(pg_catalog.=) CAST(${base.tables} AS pg_catalog.int8) AND COALESCE(f, 0) OPERATOR(pg_catalog.=) CAST(${base.filenodes} AS pg_catalog.numeric) ` +
      `AND CASE WHEN u OPERATOR(pg_catalog.=) CAST(${base.attributes} AS pg_catalog.int8) THEN true ELSE NOT ${droppedHere(base.maxOid)} END)`
    : "false";
  const tables = `CASE WHEN ${kept} THEN 'kept' ELSE '${base ? "changed" : "unknown"}' END`;
  return (
    `SELECT CAST(pg_catalog.concat('${MARK} ', ${changed}, ' ', pg_catalog.current_setting('track_counts'), ' ', ${tables}) AS pg_catalog.int4) ` +
    `FROM (${scan(base?.maxOid ?? "0")}) c ` +
    // track_counts off (superuser only) would count nothing: the transaction cannot be counted.
    `WHERE pg_catalog.numeric_gt(${changed}, CAST(${limit} AS pg_catalog.numeric)) OR NOT pg_catalog.texteq(pg_catalog.current_setting('track_counts'), 'on') OR NOT ${kept}`
  );
}

const IMMEDIATE = "SET CONSTRAINTS ALL IMMEDIATE";

/**
 * Counts the rows the open transaction changed since its base. `final`: its ReadyForQuery is the one the client
 * waits for (a client's block); otherwise a COMMIT follows it (regate's own wrap, or the client's COMMIT), and
 * deferred constraint triggers, which would run in that COMMIT, are made to run first so they are counted (not
 * in a block that goes on, whose later statements may rely on them staying deferred). A base that never
 * arrived counts from 0: more than the transaction changed, never less.
 */
export function countChanges(s: SessionState, final: boolean): void {
  if (final) return countChangesSynced(s);
  // Before regate's own COMMIT (endWrap): in the extended protocol for the reason countChangesSynced gives, and
  // synced, so that a failed count leaves the block failed for that COMMIT to roll back.
  countChangesExtended(s, true, true);
  s.pending.push({ kind: "internal", final: false, ownSync: true });
  s.toServer(SYNC);
}

const SYNC = serialize.sync();

/**
 * The six replies of an ownExtended run are regate's own; `execute` marks the Execute's, the one that carries its
 * rows or its error.
 */
export function expectOwnExtended(s: SessionState, execute: { changesBase?: boolean; countsChanges?: boolean; wrapEnd?: true } = {}): void {
  for (let i = 0; i < 6; i++) s.pending.push({ kind: "internal", final: false, extended: true, ...(i === 4 ? execute : {}) });
}

const COUNT_NAME = "regate_rows_count";

/**
 * The count after a group of the client's block, in the extended protocol under a name of regate's own, then a
 * Sync: a Query would drop the client's unnamed statement and portal, which outlive a Sync inside a block (a
 * portal left suspended, a statement bound again), and the client would find them gone. A failed count skips
 * to that Sync, whose ReadyForQuery ("E") is the one the client waits for.
 */
function countChangesSynced(s: SessionState): void {
  s.toServer(Buffer.concat([...ownExtended(COUNT_NAME, countSql(s)), serialize.close({ type: "P", name: COUNT_NAME }), SYNC]));
  expectOwnExtended(s, { countsChanges: true });
  // Its portal is closed too: the block goes on, and the next count binds the same name.
  s.pending.push({ kind: "internal", final: false, extended: true });
  s.pending.push({ kind: "internal", final: true, ownSync: true });
}

/**
 * One statement of regate's own run in the extended protocol under `name`: Close of the statement and portal
 * first (a Close of what does not exist is no error), because a failed run skips the Closes after it and leaves
 * them to the server, where the next Parse of the name would fail; then Parse, Bind, Execute, Close. Six replies.
 */
export function ownExtended(name: string, sql: string): Buffer[] {
  return [
    serialize.close({ type: "S", name }),
    serialize.close({ type: "P", name }),
    serialize.parse({ name, text: sql, types: [] }),
    serialize.bind({ statement: name, portal: name, values: [] }),
    serialize.execute({ portal: name }),
    serialize.close({ type: "S", name }),
  ];
}

/**
 * The same before a COMMIT executed in an extended batch: a failed count fails the batch, and the COMMIT is
 * skipped. Named statements and portals of regate's own, as the wrap's BEGIN: the client's unnamed ones, its
 * COMMIT's portal among them, stay as they are (the portals close with the transaction).
 */
function countChangesExtended(s: SessionState, immediate = true, rollsBack = false): void {
  const messages: Buffer[] = [];
  const steps = immediate ? ([["regate_rows_immediate", IMMEDIATE], [COUNT_NAME, countSql(s)]] as const) : ([[COUNT_NAME, countSql(s)]] as const);
  for (const [name, sql] of steps) {
    messages.push(...ownExtended(name, sql));
    expectOwnExtended(s, sql === IMMEDIATE ? {} : { countsChanges: true, ...(rollsBack ? { wrapEnd: true as const } : {}) });
  }
  s.toServer(Buffer.concat(messages));
}

/**
 * An extended batch that may change rows is counted inside its own transaction, before its Sync: the implicit
 * transaction outside a block (a failed count fails the batch, which the server then rolls back at the Sync,
 * so no BEGIN or COMMIT of regate's is needed, nor a round trip of its own), or the client's block (left failed).
 * Not while a row or byte budget is set: a cut decides after the Sync, in regate's own wrap (transaction.ts).
 */
export function countsInBatch(s: SessionState, analysis: AnalysisResult): "implicit" | "block" | undefined {
  if (!s.ctx.budget.changesBudgeted || !analysis.statements.some(mayChangeRows)) return undefined;
  if (s.txStatus === 0x54) return "block";
  if (s.txStatus === 0x49 && !s.ctx.budget.rowsBudgeted && analysis.statements.every((st) => wrappable(st, true))) return "implicit";
  return undefined;
}

/**
 * Has this extended batch counted before its Sync when `analysis` may change rows, reading the counters' base
 * first (once per transaction). `again`: asked even when already counted (a BEGIN executed since the Parse that
 * asked first makes it the block's count). True when the batch is counted or regate's wrap holds it already.
 */
export function countBatch(s: SessionState, analysis: AnalysisResult, again = false): boolean {
  if (s.batchWrapped || (s.batchCounted && !again)) return true;
  const scope = countsInBatch(s, analysis);
  if (!scope) return s.batchCounted !== false;
  readChangesBase(s, true);
  s.batchCounted = scope;
  return true;
}

/** At the batch's Sync: the count, after the deferred triggers when the Sync commits. */
export function countBeforeSync(s: SessionState, scope: "implicit" | "block"): void {
  countChangesExtended(s, scope === "implicit", scope === "implicit");
}

/**
 * Before the client's COMMIT of a block whose changes regate counted: the last count, after the deferred
 * triggers. A Query's COMMIT then rolls back when the count fails; an extended batch's is skipped, and the
 * block is left failed.
 */
export function countBeforeCommit(s: SessionState, analysis: AnalysisResult, extended: boolean): void {
  // "asked" counts too: a base read that failed (its name taken by the agent's own PREPARE or DECLARE) in a block
  // the agent then saved with ROLLBACK TO SAVEPOINT never arrives, and the COMMIT would fire deferred triggers
  // uncounted. Counted from 0, as countChanges does: more than the transaction changed, never less.
  if (!s.ctx.budget.changesBudgeted || s.txStatus !== 0x54 || s.changesBase === undefined || !commitsBlock(analysis)) return;
  if (extended) countChangesExtended(s);
  else countChanges(s, false);
}

/**
 * In the client's own block, the rows a group changed are counted after it: a group that may change rows,
 * while rows_changed_per_transaction is set. Outside a block, regate's wrap holds it instead (transaction.ts).
 */
export function needsCount(s: SessionState, analysis: AnalysisResult): boolean {
  return s.ctx.budget.changesBudgeted && s.txStatus === 0x54 && analysis.statements.some(mayChangeRows);
}

/**
 * What the rows_changed_per_transaction count cannot follow, refused while it is set: TRUNCATE (the server
 * does not count the rows it empties); a holdable cursor (its query runs at COMMIT); in autocommit, a
 * statement that may change rows and cannot run in regate's wrap; a Query that both changes rows and ends or
 * opens a transaction (the server would commit before regate could count); a Query sent inside an extended
 * batch not yet synced, when either may change rows (it shares the batch's transaction, whose count waits for
 * the Sync); and a FunctionCall (a function the analysis cannot see, in a transaction of its own).
 */
export function uncountable(s: SessionState, statement: Statement, analysis: AnalysisResult | undefined): Veto | undefined {
  if (!s.ctx.budget.changesBudgeted) return undefined;
  const refuse = (reason: string): Veto => ({ reason: `${reason}, so it is refused while rows_changed_per_transaction is set`, error_code: "FEATURE_UNSUPPORTED" });
  if (statement.message === "function_call") return refuse("a FunctionCall runs a function outside any count; call it with SELECT instead");
  if (!analysis) return undefined;
  const sts = analysis.statements;
  if (sts.some((st) => st.kind === "truncate")) return refuse("TRUNCATE empties tables without counting the rows; DELETE them with a WHERE instead");
  if (declaresHoldCursor(analysis)) return refuse("a WITH HOLD cursor runs its query at COMMIT, after the last count; use a cursor without HOLD inside a transaction, or run the query itself");
  const changes = sts.some(mayChangeRows);
  if (s.txStatus === 0x49 && changes && !sts.every((st) => wrappable(st, true))) return refuse("this statement cannot run inside a transaction, where regate counts the rows it may change; ask an operator to run it");
  if (statement.message === "query" && sts.length > 1 && changes && sts.some((st) => st.kind === "transaction")) {
    return refuse("a Query that may change rows cannot also hold transaction control; send the transaction control as a statement of its own");
  }
  if (statement.message === "query" && s.group.length > 0 && (changes || s.batchChanged)) {
    return refuse("a Query inside an extended batch not yet synced shares the batch's transaction, counted only at its Sync; send Sync first");
  }
  return undefined;
}

/**
 * The client's error for a failed count: over the bound (the count says how many), track_counts off (nothing
 * is counted), a table that existed before the transaction truncated, rewritten or dropped in it (or not known
 * whether), or the server's own error when the count could not run (a deferred constraint that failed when
 * fired, a statement_timeout). Either way the transaction is aborted; `wrapped`: a COMMIT follows, which then
 * rolls it back; otherwise the client's block is left failed.
 */
export function changesError(s: SessionState, f: Frame, wrapped: boolean): Buffer {
  const limit = s.ctx.budget.limits.rows_changed_per_transaction;
  const fields = decodeNotice(f.body);
  const m = COUNTED.exec(fields["M"] ?? "");
  const ending = wrapped ? "it was rolled back" : "the transaction block is aborted (ROLLBACK to go on)";
  const hint = "Change fewer rows per transaction (a narrower WHERE, or the change split into smaller transactions), or ask an operator to raise this agent's budget. The session is still usable.";
  // Not the count's own failure: the server's error (a deferred constraint that failed when fired, a timeout), screened.
  if (!m) return budgetedError(s, undefined, maskNotice(f, undefined, s.ctx.secrets, s.unkeptHoldMasked));
  const changed = Number(m[1]);
  // Over the bound first, as before the tables were checked: a TRUNCATE can only make the count smaller, never larger.
  if (m[2] === "on" && changed > limit) {
    s.log.info({ budget: "rows_changed_per_transaction", limit, changed, wrapped }, "rows-changed budget aborted a transaction");
    return errorResponse("54000", `regate: budget exceeded: rows_changed_per_transaction (${limit}); the transaction changed ${m[1]} rows, so ${ending}`, { hint });
  }
  if (m[2] !== "on") {
    s.log.info({ budget: "rows_changed_per_transaction", limit, wrapped, track_counts: m[2] }, "rows-changed budget aborted a transaction");
    return errorResponse("54000", `regate: rows_changed_per_transaction (${limit}) cannot be enforced while track_counts is off, so ${ending}`, { hint });
  }
  s.log.info({ budget: "rows_changed_per_transaction", limit, changed, wrapped, tables: m[3] }, "rows-changed budget aborted a transaction");
  if (m[3] === "unknown") {
    return errorResponse("0A000", `regate: rows_changed_per_transaction (${limit}): the tables as they were when this transaction began to change rows could not be read, so a table emptied, rewritten or dropped inside it cannot be ruled out, and ${ending}`, {
      hint: "Roll back and run the transaction again. The session is still usable.",
    });
  }
  return errorResponse(
    "0A000",
    `regate: rows_changed_per_transaction (${limit}) cannot count the rows of a table that existed before this transaction and was truncated, rewritten (ALTER COLUMN TYPE, CLUSTER, ...), dropped or had a column dropped inside it (by a function, DO block or trigger too), so ${ending}`,
    { hint: "DELETE the rows instead (counted against the budget), keep existing tables' storage as it is, or ask an operator to run the TRUNCATE, DROP or ALTER TABLE. The session is still usable." },
  );
}
