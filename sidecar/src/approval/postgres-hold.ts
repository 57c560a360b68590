import type { Decision, SessionInput } from "../decision/index.js";
import type { SessionHooks, Statement } from "../postgres/index.js";
import type { ChosenSetting } from "../postgres/reading-settings.js";
import { digestParameters } from "../postgres/parameters.js";
import { approvalHash } from "./hash.js";
import { noticeResponse } from "./notice.js";
import { agentRow } from "./own.js";
import { reviewView } from "./review-view.js";
import { objectsOf } from "./objects.js";
import { searchPathTerms } from "./search-path.js";
import { definitionsUnsettled } from "./block-changes.js";
import { deny } from "./outcomes.js";
import type { ApprovalService, ApprovalServiceOptions } from "./service.js";

type PgControl = Parameters<NonNullable<SessionHooks["hold"]>>[3];

/** The session hooks that wire `service` into the Postgres path. */
export function postgresHooks(service: ApprovalService): SessionHooks {
  return {
    hold: (session, statement, decision, control) => service.hold(session, statement, decision, control),
    ownApprovals: (session) => service.own(session.principal.subject).map(agentRow),
  };
}

/**
 * The parameters an approval's digest covers. Over the bytes the server gets, not the policy's view of
 * them (which cuts long values): two Binds that share a digest, and so a reviewer's approve or a grant,
 * send the same parameters. None is `undefined` however the statement came: a Query, a Parse bound in
 * its own batch (JDBC, asyncpg) and a Bind of a statement prepared in an earlier one (pgx, psycopg's
 * prepare) run the same text with nothing bound, so a grant given for one is the re-run of the other.
 */
function digestOf(statement: Statement): unknown[] | undefined {
  const b = statement.bindValues;
  const parameters = b ? digestParameters(b.values, b.formats, b.types) : statement.parameters;
  return parameters && parameters.length > 0 ? parameters : undefined;
}

/**
 * The Postgres side of an approval: the statement's digest, the cap inside a transaction block (the
 * server must not end the session while a reviewer thinks), and the NoticeResponse a held client gets.
 */
export async function postgresHold(
  service: ApprovalService,
  opts: Pick<ApprovalServiceOptions, "idleInTransactionMs" | "idleMarginSeconds">,
  session: SessionInput,
  statement: Statement,
  decision: Decision,
  control: PgControl,
): Promise<Decision> {
  // DDL earlier in the agent's own open transaction: regate's catalog connection cannot see what it means.
  if (control.definitions_unsettled) return definitionsUnsettled(decision);
  let capSeconds: number | undefined;
  if (control.in_transaction) {
    const idleMs = await opts.idleInTransactionMs().catch(() => 0);
    if (idleMs > 0) {
      const idle = idleMs / 1000;
      capSeconds = idle - opts.idleMarginSeconds > 0 ? idle - opts.idleMarginSeconds : idle / 2;
    }
    if (control.signal.aborted) return deny(decision, "APPROVAL_WITHDRAWN", "the approval request was withdrawn");
  }
  const principal = session.principal.subject;
  // Held, the session cannot change them before the statement runs; a grant's re-run is matched under its own.
  const chosen = control.settings ?? [];
  const path = searchPathTerms(control.search_path);
  const named: Record<string, string> = Object.fromEntries(chosen.map((c) => [c.name, c.value]));
  if (path.digest !== undefined) named.search_path = path.digest;
  const settings = Object.keys(named).length > 0 ? named : undefined;
  const sha256 = approvalHash(principal, session.target, statement.sql, digestOf(statement), settings);
  // A grant is for the objects the names resolve to now, not for the text alone (postgres/approved-objects.ts).
  const objects = await objectsOf(control);
  const view = reviewView(decision, statement.sql, statement.parameters);
  const notes = [...(chosen.length > 0 ? [settingsNote(chosen)] : []), ...(path.note ? [path.note] : []), ...(objects.note ? [objects.note] : []), ...(view.notes ?? [])];
  return service.request(
    {
      kind: "postgres",
      session_id: session.id,
      principal,
      target: session.target,
      statement: { message: statement.message, ...view, ...(notes.length > 0 ? { notes } : {}) },
      sha256,
      current: () => approvalHash(principal, session.target, statement.sql, digestOf(statement), settings),
      ...(objects.digest !== undefined ? { objects: objects.digest } : {}),
      objectsNow: async () => (await objectsOf(control)).digest,
      in_transaction: control.in_transaction,
    },
    decision,
    {
      signal: control.signal,
      ...(capSeconds !== undefined ? { capSeconds } : {}),
      held: (a, holdSeconds) =>
        control.notify(
          noticeResponse({
            S: "NOTICE",
            V: "NOTICE",
            C: "00000",
            M: `regate: statement held for approval as ${a.id}: ${a.reason}`,
            D: `decision_id ${decision.decision_id}; held up to ${holdSeconds}s, then answered "still pending"; the approval expires at ${a.expires_at}; sha256 ${a.sha256}`,
            H: `a reviewer approves or refuses at ${service.reviewUrl}; cancelling the statement withdraws the request`,
          }),
        ),
    },
  );
}

/** What a reviewer must know to read the statement as the server will: the settings the agent's connection chose. */
function settingsNote(chosen: readonly ChosenSetting[]): string {
  const each = chosen.map((c) => `${c.name} '${c.value}' (${c.server !== undefined ? `the server's is '${c.server}'` : "set when it connected"})`);
  return `The server reads this statement's dates, times and intervals under settings the agent's connection chose: ${each.join(", ")}. A date such as '12/01/2025' or a time without a zone means what these settings make it mean.`;
}
