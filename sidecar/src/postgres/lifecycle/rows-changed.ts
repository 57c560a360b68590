import { serialize } from "pg-protocol";
import { decodeNotice, errorResponse, type Frame } from "../protocol/index.js";
import type { SessionState } from "./state.js";

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

const MARK = "regate_rows_changed";
/** The count as the failed cast quotes it (the quotes are the server's own, translated with lc_messages). */
const COUNTED = new RegExp(`${MARK} (\\d+) (\\w+)`);
const SUM = "SELECT pg_catalog.sum(pg_catalog.int8pl(pg_catalog.int8pl(n_tup_ins, n_tup_upd), n_tup_del)) AS n FROM pg_catalog.pg_stat_xact_user_tables";

const BASE_SQL = `SELECT CAST(COALESCE(n, 0) AS pg_catalog.text) FROM (${SUM}) c`;
const BASE_NAME = "regate_rows_base";
const BASE_QUERY = serialize.query(BASE_SQL);
const BASE_EXTENDED = Buffer.concat([
  serialize.parse({ name: BASE_NAME, text: BASE_SQL, types: [] }),
  serialize.bind({ statement: BASE_NAME, portal: BASE_NAME, values: [] }),
  serialize.execute({ portal: BASE_NAME }),
  serialize.close({ type: "S", name: BASE_NAME }),
]);

/** Reads the counters before the transaction's first change, unless already read (or asked) in it. */
export function readChangesBase(s: SessionState, extended: boolean): void {
  if (!s.ctx.budget.changesBudgeted || s.changesBase !== undefined) return;
  s.changesBase = "asked";
  if (!extended) {
    s.pending.push({ kind: "internal", final: false, changesBase: true });
    return s.toServer(BASE_QUERY);
  }
  // Parse, Bind, Execute (whose DataRow is the base), Close: inside the client's batch, as its wrap's BEGIN is.
  for (let i = 0; i < 4; i++) s.pending.push({ kind: "internal", final: false, extended: true, ...(i === 2 ? { changesBase: true } : {}) });
  s.toServer(BASE_EXTENDED);
}

/** The base's one value, from its DataRow. */
export function noteChangesBase(s: SessionState, f: Frame): void {
  // DataRow: int16 count, int32 length, the text.
  const len = f.body.readInt32BE(2);
  const n = len > 0 ? Number(f.body.toString("latin1", 6, 6 + len)) : NaN;
  if (Number.isSafeInteger(n)) s.changesBase = n;
}

/**
 * Counts the rows the open transaction changed since its base. `final`: its ReadyForQuery is the one the client
 * waits for (a client's block); otherwise regate's COMMIT or ROLLBACK follows it (regate's own wrap). A base that
 * never arrived counts from 0: more than the transaction changed, never less.
 */
export function countChanges(s: SessionState, final: boolean): void {
  const limit = s.ctx.budget.limits.rows_changed_per_transaction;
  const base = typeof s.changesBase === "number" ? s.changesBase : 0;
  const changed = `pg_catalog.numeric_sub(COALESCE(n, 0), CAST(${base} AS pg_catalog.numeric))`;
  s.pending.push({ kind: "internal", final, countsChanges: true });
  s.toServer(
    serialize.query(
      // In regate's own wrap the COMMIT comes next: deferred constraint triggers, which would run in it, run
      // first and are counted. Not in a client's block, whose later statements may rely on them staying deferred.
      (final ? "" : "SET CONSTRAINTS ALL IMMEDIATE; ") +
        `SELECT CAST(pg_catalog.concat('${MARK} ', ${changed}, ' ', pg_catalog.current_setting('track_counts')) AS pg_catalog.int4) FROM (${SUM}) c ` +
        // track_counts off (superuser only) would count nothing: the transaction cannot be counted.
        `WHERE pg_catalog.numeric_gt(${changed}, CAST(${limit} AS pg_catalog.numeric)) OR NOT pg_catalog.texteq(pg_catalog.current_setting('track_counts'), 'on')`,
    ),
  );
}

/**
 * The client's error for a failed count: over the bound (the count says how many), or not counted at all
 * (the server could not run the count: a statement_timeout, track_counts off). Either way the transaction
 * is aborted; `wrapped` says whether regate's own wrap then rolls it back or the client's block is left failed.
 */
export function changesError(s: SessionState, f: Frame, wrapped: boolean): Buffer {
  const limit = s.ctx.budget.limits.rows_changed_per_transaction;
  const fields = decodeNotice(f.body);
  const m = COUNTED.exec(fields["M"] ?? "");
  const ending = wrapped ? "it was rolled back" : "the transaction block is aborted (ROLLBACK to go on)";
  const hint = "Change fewer rows per transaction (a narrower WHERE, or the change split into smaller transactions), or ask an operator to raise this agent's budget. The session is still usable.";
  let msg: string;
  if (m && m[2] === "on") msg = `regate: budget exceeded: rows_changed_per_transaction (${limit}); the transaction changed ${m[1]} rows, so ${ending}`;
  else if (m) msg = `regate: rows_changed_per_transaction (${limit}) cannot be enforced while track_counts is off, so ${ending}`;
  else msg = `regate: the rows this transaction changed could not be counted for rows_changed_per_transaction (${limit}; the count failed with SQLSTATE ${fields["C"] ?? "XX000"}), so ${ending}`;
  s.log.info({ budget: "rows_changed_per_transaction", limit, changed: m ? Number(m[1]) : undefined, wrapped }, "rows-changed budget aborted a transaction");
  return errorResponse("54000", msg, { hint });
}
