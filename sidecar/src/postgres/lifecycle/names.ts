import { serialize } from "pg-protocol";
// Prepared statements, portals and SQL-level names as the server holds them, not as the client asked.
//
// A name changes on the server only when the message that changes it succeeds: a Parse onto a name in use
// fails (42P05), a Close the server skips after an error never happens, a PREPARE in a batch that failed
// earlier never runs. So regate applies a change when the server confirms it (ParseComplete, BindComplete,
// CloseComplete, a statement's CommandComplete), and until then resolves a name as follows:
// - a change earlier in the same batch counts as done: if it fails, the server skips the rest of the batch,
//   the message resolving the name included;
// - a change in an earlier batch not yet answered leaves the outcome open: the message waits for the answer.
// A name regate does not hold is refused, never forwarded: the server might hold it under a definition
// regate never saw (SQL PREPARE and DECLARE share the protocol's namespaces).
import type { Pending, Portal, PreparedStatement } from "../pending.js";
import type { AnalysisResult, StatementFacts } from "../sql/types.js";
import type { SessionState } from "./state.js";

export type Resolved<T> = { value: T | undefined } | "wait";

/** Index of the last entry that ends a batch (a Sync, a simple Query): later entries are the open batch. */
function batchStart(pending: readonly Pending[]): number {
  for (let i = pending.length - 1; i >= 0; i--) {
    const k = pending[i]!.kind;
    if (k === "sync" || k === "query") return i;
  }
  return -1;
}

/** What a pending message does to a name: NONE when it leaves it alone, else what the name then names. */
const NONE = Symbol("unchanged");
type Change<T> = (p: Pending, name: string) => T | undefined | typeof NONE;

// The changes and the confirmed names are passed as module functions and maps, not closures: Bind, Describe
// and Execute each resolve a name, on every execution.
function resolve<T>(s: SessionState, name: string, change: Change<T>, confirmed: ReadonlyMap<string, T>): Resolved<T> {
  const pending = s.pending;
  if (pending.length > 0) {
    const start = batchStart(pending);
    // The latest change wins: in the open batch it counts as done; in an earlier one, its answer is awaited.
    for (let i = pending.length - 1; i >= 0; i--) {
      const c = change(pending[i]!, name);
      if (c !== NONE) return i > start ? { value: c } : "wait";
    }
  }
  return { value: confirmed.get(name) };
}

function statementChange(p: Pending, name: string): PreparedStatement | undefined | typeof NONE {
  if (p.kind === "parse" && p.statement?.name === name) return p.denial ? undefined : p.statement;
  if (p.kind === "close" && p.target === "S" && p.name === name) return undefined;
  return NONE;
}

function portalChange(p: Pending, name: string): Portal | undefined | typeof NONE {
  if (p.kind === "bind" && p.portal?.name === name) return p.portal;
  if (p.kind === "close" && p.target === "P" && p.name === name) return undefined;
  return NONE;
}

/** The prepared statement `name` will name when a message sent now runs. */
export function statementNamed(s: SessionState, name: string): Resolved<PreparedStatement> {
  return resolve(s, name, statementChange, s.statements);
}

/** The portal `name` will name when a message sent now runs. */
export function portalNamed(s: SessionState, name: string): Resolved<Portal> {
  return resolve(s, name, portalChange, s.portals);
}

/** The analysis holds a statement whose success changes the session's names. */
export function changesSqlNames(analysis: AnalysisResult): boolean {
  return analysis.names !== undefined;
}

/**
 * The SQL prepared statements whose facts still hold: PostgreSQL plans one again at EXECUTE when the
 * search_path or a relation it reads changed since PREPARE, so one taken under another stamp is left out
 * (refreshPrepared takes it again first; one it cannot take again stays out, and an EXECUTE of it is
 * refused as unknown).
 */
export function currentPrepared(s: SessionState, stamp: string): Map<string, StatementFacts> {
  let stale = false;
  for (const name of s.prepared.keys()) if (s.preparedTaken.get(name) !== stamp) stale = true;
  if (!stale) return s.prepared;
  return new Map([...s.prepared].filter(([name]) => s.preparedTaken.get(name) === stamp));
}

/**
 * Takes the SQL prepared statements whose facts were taken under another stamp (a DDL, a catalog change, a
 * search_path change since PREPARE) again, from their PREPARE's text under the session's names now: what
 * PostgreSQL does when it plans them again at EXECUTE. `reanalyse` analyses a text as stage 2 does; a
 * Promise when the catalog must be asked.
 */
export function refreshPrepared(s: SessionState, stamp: string, reanalyse: (sql: string) => AnalysisResult | Promise<AnalysisResult>): Promise<void> | undefined {
  const pending: Promise<void>[] = [];
  for (const [name, facts] of s.prepared) {
    if (s.preparedTaken.get(name) === stamp) continue;
    const take = (a: AnalysisResult): void => {
      // Still the statement prepared under that name (no PREPARE or DEALLOCATE meanwhile), and still one PREPARE of it.
      const effect = a.names?.[0];
      if (s.prepared.get(name) !== facts || a.statements.length !== 1 || effect?.space !== "statement" || !effect.define || effect.name !== name) return;
      s.prepared.set(name, a.statements[0]!);
      s.preparedTaken.set(name, a.taken ?? "");
      s.analyses.overlayChanged();
    };
    const a = reanalyse(facts.sql);
    if (a instanceof Promise) pending.push(a.then(take, () => undefined));
    else take(a);
  }
  return pending.length === 0 ? undefined : Promise.all(pending).then(() => undefined);
}

/** Forgets `name` (null: all) in both maps of one namespace. */
function forget(protocol: Map<string, unknown>, sql: Map<string, StatementFacts>, name: string | null): void {
  if (name === null) {
    protocol.clear();
    sql.clear();
  } else {
    protocol.delete(name);
    sql.delete(name);
  }
}

/**
 * Applies what statement `index` of `analysis` did to the session's names, once the server says it ran.
 * Names come from the parse tree, as the server reads them. PostgreSQL keeps one namespace for SQL
 * PREPARE and protocol statements, and one for DECLARE and protocol portals: a name an SQL statement
 * defines or drops is forgotten on the protocol side too (a later Bind or Execute of it is then refused,
 * names.test.ts), and the other way round.
 */
export function confirmSqlNames(s: SessionState, analysis: AnalysisResult | undefined, index: number): void {
  const effect = analysis?.names?.[index];
  if (!effect) return;
  const st = analysis!.statements[index]!;
  switch (effect.space) {
    case "statement":
      forget(s.statements, s.prepared, effect.name);
      if (effect.define && effect.name !== null) {
        s.prepared.set(effect.name, st);
        s.preparedTaken.set(effect.name, analysis!.taken ?? "");
      }
      break;
    case "cursor":
      forget(s.portals, s.cursors, effect.name);
      if (effect.name === null) s.holdCursors.clear();
      else s.holdCursors.delete(effect.name);
      if (effect.define && effect.name !== null) {
        s.cursors.set(effect.name, st);
        if (effect.hold) s.holdCursors.add(effect.name);
      }
      break;
    case "all":
      forget(s.statements, s.prepared, null);
      forget(s.portals, s.cursors, null);
      s.holdCursors.clear();
      break;
    case "transaction":
      // COMMIT AND CHAIN ends the transaction with no ReadyForQuery "I"; a ROLLBACK (TO) also drops the
      // HOLD cursors made in what it undoes, and which those are regate does not track: all go.
      endTransaction(s, effect.ends === "rollback");
      // The chained transaction counts its changed rows from a base of its own: the one read for the transaction
      // just committed would charge it that transaction's rows too (the counters are not flushed in between).
      // Not after ROLLBACK TO: the transaction goes on, and a base read now would leave out what it changed.
      if (effect.ends === "chain") s.changesBase = undefined;
      break;
  }
  s.analyses.overlayChanged();
}

/** The transaction ended (ReadyForQuery "I"): its portals and cursors without HOLD are gone; after a failed block, all. */
export function transactionEnded(s: SessionState, failed: boolean): void {
  s.changesBase = undefined;
  // Committed or rolled back, and nothing sent after it: regate's catalog connection sees what the session sees.
  if (s.pending.length === 0) s.definitionsUnsettled = false;
  if (s.portals.size > 0 || s.cursors.size > 0) endTransaction(s, failed);
}

function endTransaction(s: SessionState, rolledBack: boolean): void {
  s.portals.clear();
  let dropped = false;
  for (const name of s.cursors.keys()) {
    if (rolledBack || !s.holdCursors.has(name)) {
      s.cursors.delete(name);
      dropped = true;
    }
  }
  for (const name of s.holdCursors) if (!s.cursors.has(name)) s.holdCursors.delete(name);
  if (dropped) s.analyses.overlayChanged();
}

/** A protocol Close the server confirmed: the name is gone from the namespace it shares with SQL. */
export function confirmClose(s: SessionState, target: "S" | "P", name: string): void {
  const sql = target === "S" ? s.prepared : s.cursors;
  (target === "S" ? s.statements : s.portals).delete(name);
  if (target === "P") s.holdCursors.delete(name);
  if (sql.delete(name)) s.analyses.overlayChanged();
}

/** A Parse or Bind the server confirmed: no SQL statement or cursor can hold that name any more. */
export function confirmCreated(s: SessionState, target: "S" | "P", name: string): void {
  if (target === "P") s.holdCursors.delete(name);
  if ((target === "S" ? s.prepared : s.cursors).delete(name)) s.analyses.overlayChanged();
}

/**
 * Resolves when nothing sent earlier can still change what the session's names mean: analyses of
 * EXECUTE and FETCH read them, so a statement waits for an earlier PREPARE, DECLARE or DEALLOCATE to be
 * answered (a pipelining client only; others wait for the answer anyway).
 */
export function sqlNamesSettled(s: SessionState): Promise<void> | undefined {
  return s.sqlNamesInFlight === 0 ? undefined : answered(s, () => s.sqlNamesInFlight === 0);
}

/** Resolves once `ready()` holds, checked as the server's answers arrive. */
export function answered(s: SessionState, ready: () => boolean): Promise<void> {
  return new Promise((ok) => s.whenAnswered.push({ ready, resolve: ok }));
}

const FLUSH = serialize.flush();

/**
 * Within an extended batch the server holds its answers until Sync or Flush: asks for them, and resolves once
 * `ready()` holds (by default: every message sent so far answered).
 */
export function flushedUntil(s: SessionState, ready: () => boolean = () => s.pending.length === 0): Promise<void> {
  s.toServer(FLUSH);
  return answered(s, ready);
}

/** Runs after each server message: wakes the client messages waiting for an answer. */
export function wakeAnswered(s: SessionState): void {
  const waiting = s.whenAnswered;
  for (let i = 0; i < waiting.length; ) {
    const w = waiting[i]!;
    if (w.ready()) {
      waiting.splice(i, 1);
      w.resolve();
    } else i++;
  }
}
