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
import { isDiscardAll } from "../search-path.js";
import type { StatementFacts } from "../sql/types.js";
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

type Change<T> = (p: Pending) => { value: T | undefined } | undefined;

function resolve<T>(s: SessionState, change: Change<T>, confirmed: () => T | undefined): Resolved<T> {
  const pending = s.pending;
  if (pending.length === 0) return { value: confirmed() };
  const start = batchStart(pending);
  for (let i = pending.length - 1; i > start; i--) {
    const c = change(pending[i]!);
    if (c) return c;
  }
  for (let i = start; i >= 0; i--) if (change(pending[i]!)) return "wait";
  return { value: confirmed() };
}

/** The prepared statement `name` will name when a message sent now runs. */
export function statementNamed(s: SessionState, name: string): Resolved<PreparedStatement> {
  return resolve(
    s,
    (p) => {
      if (p.kind === "parse" && p.statement?.name === name) return { value: p.denial ? undefined : p.statement };
      if (p.kind === "close" && p.target === "S" && p.name === name) return { value: undefined };
      return undefined;
    },
    () => s.statements.get(name),
  );
}

/** The portal `name` will name when a message sent now runs. */
export function portalNamed(s: SessionState, name: string): Resolved<Portal> {
  return resolve(
    s,
    (p) => {
      if (p.kind === "bind" && p.portal?.name === name) return { value: p.portal };
      if (p.kind === "close" && p.target === "P" && p.name === name) return { value: undefined };
      return undefined;
    },
    () => s.portals.get(name),
  );
}

/** Statements whose success changes the SQL-level names an analysis resolves (EXECUTE, FETCH). */
export function changesSqlNames(statements: readonly StatementFacts[]): boolean {
  return statements.some((st) => st.kind === "prepare" || st.kind === "cursor" || st.kind === "deallocate" || isDiscardAll(st));
}

/** Applies what one statement did to the SQL-level names, once the server says it ran. */
export function confirmSqlNames(s: SessionState, st: StatementFacts | undefined): void {
  if (!st) return;
  if (st.kind === "prepare" || st.kind === "cursor") {
    const name = /^\s*(?:prepare|declare)\s+("(?:[^"]|"")+"|[^\s(]+)/i.exec(st.sql)?.[1];
    if (!name) return;
    const key = name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name.toLowerCase();
    (st.kind === "prepare" ? s.prepared : s.cursors).set(key, st);
    s.analyses.overlayChanged();
  } else if (st.kind === "deallocate" || isDiscardAll(st)) {
    s.prepared.clear();
    if (isDiscardAll(st)) s.cursors.clear();
    s.analyses.overlayChanged();
  }
}

/**
 * Resolves when nothing sent earlier can still change what the session's names mean: analyses of
 * EXECUTE and FETCH read them, so a statement waits for an earlier PREPARE, DECLARE or DEALLOCATE to be
 * answered (a pipelining client only; others wait for the answer anyway).
 */
export function sqlNamesSettled(s: SessionState): Promise<void> | undefined {
  if (s.sqlNamesInFlight === 0) return undefined;
  return new Promise((ok) => s.whenAnswered.push({ ready: () => s.sqlNamesInFlight === 0, resolve: ok }));
}

/** Resolves once `ready()` holds, checked as the server's answers arrive. */
export function answered(s: SessionState, ready: () => boolean): Promise<void> {
  return new Promise((ok) => s.whenAnswered.push({ ready, resolve: ok }));
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
