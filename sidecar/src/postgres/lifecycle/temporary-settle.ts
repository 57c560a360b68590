import { applyChanges, isTemporarySchema, mergeHolds, type TemporaryHolds } from "../sql/temporary.js";
import type { Pending } from "../pending.js";
import type { AnalysisResult, StatementFacts } from "../sql/types.js";
import type { SessionState } from "./state.js";
import type { Statement } from "./statement.js";

// What the session's temporary schema holds once the server is idle. Statements are applied to SessionState.temporary
// as they are sent (enforce.ts), so it only grows while anything is in flight: a name the server may have is never
// missing. Once the server is idle with nothing pending, the groups it answered since the last such point are
// replayed with their outcomes (command tags, errors) through PostgreSQL's transaction rules, and the relations
// whose creation was rolled back (ROLLBACK, ROLLBACK TO SAVEPOINT, an error), dropped at commit (ON COMMIT DROP) or
// discarded (DISCARD TEMP / ALL, DROP of pg_temp.x, committed) are forgotten: their names resolve again as the server resolves them.
// Whatever the replay does not model (a statement without facts, PREPARE TRANSACTION, AND CHAIN, a quoted savepoint
// name, outcomes that disagree with the server's) forgets nothing.

type Holds = Map<string, TemporaryHolds>;

/** A group of replies the server ended with ReadyForQuery: its statements, and whether the server reported an error. */
export interface AnsweredGroup {
  statements: readonly Statement[];
  failed: boolean;
}

/** The server's temporary relations at the last idle point (a superset), and the groups answered since. */
export interface TemporaryLedger {
  settled: Holds;
  groups: AnsweredGroup[];
  /** Sent since the last idle point and storing into pg_temp (enforce.ts): each must be among the groups replayed. */
  sent: Set<AnalysisResult>;
  /** More groups than MAX_GROUPS since the last idle point (a long transaction): not replayed. */
  overflow: boolean;
}

/** Groups kept for one replay: a transaction longer than this forgets nothing, and costs no more memory. */
const MAX_GROUPS = 256;

export function newLedger(): TemporaryLedger {
  return { settled: new Map(), groups: [], sent: new Set(), overflow: false };
}

const TX = /^\s*(begin|start|commit|end|rollback|abort|savepoint|release)\b/i;
const ROLLBACK_TO = /^\s*(rollback|abort)\s+(work\s+|transaction\s+)?to\s+(savepoint\s+)?([a-z_][a-z0-9_$]*)\s*;?\s*$/i;
const RELEASE = /^\s*release\s+(savepoint\s+)?([a-z_][a-z0-9_$]*)\s*;?\s*$/i;
const SAVEPOINT = /^\s*savepoint\s+([a-z_][a-z0-9_$]*)\s*;?\s*$/i;
const DISCARD_TEMP = /^\s*discard\s+(all|temp|temporary)\b/i;

class Unsure extends Error {}

/** Relations kinds a DROP names that the temporary schema can hold. */
const DROPPED = new Set(["table", "view", "sequence"]);

/**
 * The relations a DROP that ran removed from the temporary schema: those it names as pg_temp.x. A bare name may
 * have been a permanent relation the path lists first (or, the path not known for sure, either): not counted.
 */
function droppedTemporary(f: StatementFacts): string[] {
  if (f.node !== "DropStmt" || f.ddl?.action !== "drop" || !DROPPED.has(f.ddl.object)) return [];
  return f.tables.filter((t) => t.schema !== null && isTemporarySchema(t.schema) && t.candidates.length === 1).map((t) => t.name);
}

/** Replays the groups; the relations the server may hold now, or undefined when the replay cannot tell. */
export function replay(settled: Holds, groups: readonly AnsweredGroup[]): Holds | undefined {
  let committed = new Map(settled);
  let tx = new Map(committed);
  let dropAtCommit = new Set<string>();
  let block = false;
  let aborted = false;
  let savepoints: { name: string; tx: Holds; drop: Set<string> }[] = [];
  const commit = () => {
    for (const name of dropAtCommit) tx.delete(name);
    committed = tx;
  };
  const restart = () => {
    tx = new Map(committed);
    dropAtCommit = new Set();
    savepoints = [];
    block = false;
    aborted = false;
  };
  try {
    for (const g of groups) {
      let errored = false;
      for (const st of g.statements) {
        const a = st.analysis;
        // A budget cut (54000) may have let the server finish what regate reports as failed.
        if (!a || st.result.budget_cut !== undefined || st.result.session_ended !== undefined || st.result.sqlstate === "54000") throw new Unsure();
        const tags = st.result.command_tags;
        for (const [i, f] of a.statements.entries()) {
          if (errored) break;
          if (i > tags.length || (i === tags.length && st.result.sqlstate === undefined)) break;
          if (i === tags.length) {
            // The statement failed: a block is aborted until it ends; an implicit transaction rolls back, and the
            // server skips the rest of the group.
            errored = true;
            if (block) aborted = true;
            else restart();
            break;
          }
          const tag = tags[i]!;
          if (f.node === "TransactionStmt") {
            const m = TX.exec(f.sql);
            if (!m || /\b(chain|prepared)\b/i.test(f.sql) || /^\s*prepare/i.test(f.sql)) throw new Unsure();
            const verb = m[1]!.toLowerCase();
            if (verb === "begin" || verb === "start") block = true;
            else if (verb === "commit" || verb === "end") {
              // A failed block answers COMMIT with ROLLBACK.
              if (tag === "COMMIT" && !aborted) commit();
              restart();
            } else if (verb === "savepoint") {
              const sp = SAVEPOINT.exec(f.sql);
              if (!sp) throw new Unsure();
              savepoints.push({ name: sp[1]!.toLowerCase(), tx: new Map(tx), drop: new Set(dropAtCommit) });
            } else if (verb === "release") {
              const r = RELEASE.exec(f.sql);
              const at = r ? savepoints.map((p) => p.name).lastIndexOf(r[2]!.toLowerCase()) : -1;
              if (at === -1) throw new Unsure();
              savepoints.length = at;
            } else {
              const to = ROLLBACK_TO.exec(f.sql);
              if (to) {
                const at = savepoints.map((p) => p.name).lastIndexOf(to[4]!.toLowerCase());
                if (at === -1) throw new Unsure();
                const sp = savepoints[at]!;
                savepoints.length = at + 1;
                tx = new Map(sp.tx);
                dropAtCommit = new Set(sp.drop);
                aborted = false;
              } else if (/^\s*(rollback|abort)\s*(work|transaction)?\s*;?\s*$/i.test(f.sql)) restart();
              else throw new Unsure();
            }
            continue;
          }
          if (DISCARD_TEMP.test(f.sql) && f.kind === "utility") {
            tx.clear();
            dropAtCommit.clear();
          }
          const changes = (a.temporary ?? []).filter((c) => c.statement === i);
          if (changes.length > 0) {
            applyChanges(tx, changes, a.statements);
            // Any other change to the name (made again after a DROP, renamed into it, written) keeps it past the commit.
            for (const c of changes) {
              if (c.dropsAtCommit) dropAtCommit.add(c.name);
              else dropAtCommit.delete(c.name);
            }
          }
          for (const name of droppedTemporary(f)) {
            tx.delete(name);
            dropAtCommit.delete(name);
          }
        }
        if (errored) break;
      }
      // The server and the replay must agree on whether the group failed.
      if (errored !== g.failed) throw new Unsure();
      if (!block) {
        if (!errored) commit();
        restart();
      }
    }
  } catch (err) {
    if (err instanceof Unsure) return undefined;
    throw err;
  }
  if (block) return undefined;
  return committed;
}

/**
 * The server ended a group of replies. At an idle point with nothing else in flight, the temporary relations
 * become what the replay says the server holds (never a name it may hold that regate did not count), and the
 * analysis cache moves on if any name was forgotten.
 */
export function settleTemporary(s: SessionState, head: Pending | undefined, failed: boolean): void {
  const ledger = s.temporaryLedger;
  const idle = s.txStatus === 0x49 && s.pending.length === 0;
  // Nothing counted and the server idle: no creation since the last idle point, nothing to replay or forget.
  if (idle && s.temporary.size === 0 && ledger.groups.length === 0 && !ledger.overflow) return;
  const statements = head?.kind === "query" ? (head.stmt ? [head.stmt] : []) : head?.kind === "sync" ? head.done : [];
  if (statements.length > 0) {
    if (ledger.groups.length < MAX_GROUPS) ledger.groups.push({ statements, failed });
    else ledger.overflow = true;
  }
  if (!idle) return;
  // A statement that stores into pg_temp but whose answer is in no group (a reply kind not collected): not replayed.
  const seen = new Set(ledger.groups.flatMap((g) => g.statements.map((st) => st.analysis)));
  const complete = [...ledger.sent].every((a) => seen.has(a));
  const now = complete && !ledger.overflow ? replay(ledger.settled, ledger.groups) : undefined;
  ledger.groups = [];
  ledger.sent.clear();
  ledger.overflow = false;
  if (now === undefined) {
    ledger.settled = new Map(s.temporary);
    return;
  }
  let changed = false;
  for (const name of [...s.temporary.keys()]) {
    if (now.has(name)) continue;
    s.temporary.delete(name);
    changed = true;
  }
  // What the replay says the server holds is kept whatever regate had (a statement prepared before a name was forgotten).
  for (const [name, holds] of now) {
    const before = s.temporary.get(name);
    const after = mergeHolds(before, holds);
    if (after === before) continue;
    s.temporary.set(name, after);
    changed = true;
  }
  ledger.settled = new Map(s.temporary);
  if (changed) s.analyses.temporaryChanged();
}
