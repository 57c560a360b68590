import type { Pending } from "../pending.js";
import type { SessionState } from "./state.js";

// A temporary relation is counted from the moment a statement that may make it is sent (enforce.ts), and kept:
// whether the server still holds it after a rollback, an error, ON COMMIT DROP or a DROP depends on transaction
// outcomes (savepoints, pipelined batches, a failed COMMIT, a refusal in place of a message) that a replay of the
// answers would have to model exactly, and a name forgotten while the server keeps it reads the values stored in
// it through the permanent relation's masks. One point is certain: a DISCARD TEMP or DISCARD ALL sent alone in a
// Query, answered without an error, the server idle after it and nothing else in flight, ran in a transaction of
// its own, committed, and left the session's temporary schema empty (a connection pool's reset between clients).

const DISCARD_TAGS = new Set(["DISCARD ALL", "DISCARD TEMP"]);

/** The server ended the group `head`: after a DISCARD that emptied pg_temp, regate's count of it starts over. */
export function settleTemporary(s: SessionState, head: Pending | undefined, failed: boolean): void {
  if (s.temporary.size === 0 || failed || head?.kind !== "query" || s.txStatus !== 0x49 || s.pending.length > 0) return;
  const facts = head.analysis?.statements;
  const tags = head.stmt?.result.command_tags;
  if (facts?.length !== 1 || facts[0]!.node !== "DiscardStmt" || tags?.length !== 1 || !DISCARD_TAGS.has(tags[0]!)) return;
  s.temporary.clear();
  s.analyses.temporaryChanged();
}
