// Which lifecycle events may carry their statement text (or "METHOD /path") to the SIEM.
//
// A decision's OCSF event is built from its logged view, after the policy's system.log.mask. A lifecycle event's
// `subject` comes from the adapter as the statement ran (a budget cut, a killed session) or as reviewers saw it:
// the policy's mask was never applied to it. So a policy that keeps a statement's text out of the logs had it
// exported anyway by the first budget cut, kill or lock that followed. The export remembers which decisions, and
// which sessions, had that text masked or erased, and withholds the subject of any lifecycle event that follows
// one of them (the SIEM joins it to the masked decision by `metadata.correlation_uid`).

import { reasonsMasked, type DecisionEvent } from "../decision/index.js";

/** Decisions and sessions remembered (oldest forgotten first): ids only, so a long approval still finds its own. */
const MAX_DECISIONS = 100_000;
const MAX_SESSIONS = 10_000;

/** Members of the input a lifecycle event's subject is made of. */
const POSTGRES_TEXT = ["input", "postgres", "statements", "*", "sql"];
/**
 * Under input.http, what a lifecycle subject cannot hold (it is "METHOD /path?query"): headers and the body, and
 * what is read from them (the MCP messages and the content type, erased with them: decision/mask-copies.ts).
 */
const HTTP_NOT_SUBJECT = new Set(["headers", "body", "parsed_body", "truncated_body", "mcp", "mcp_batch", "content_type"]);

export class MaskedSubjects {
  readonly #decisions = new Set<string>();
  readonly #sessions = new Set<string>();
  /** Decisions whose reasons the policy's mask erased or rewrote (logged-reasons.ts). */
  readonly #reasons = new Set<string>();

  /** Called with every decision the OCSF export writes. */
  note(e: DecisionEvent): void {
    if (e.decision.reasons.length > 0 && reasonsMasked(e)) remember(this.#reasons, e.decision.decision_id, MAX_DECISIONS);
    const paths = [...e.erased, ...e.masked];
    if (!paths.some(touchesSubject)) return;
    remember(this.#decisions, e.decision.decision_id, MAX_DECISIONS);
    const session = (e.input as { session?: { id?: unknown } } | undefined)?.session?.id;
    if (typeof session === "string") remember(this.#sessions, session, MAX_SESSIONS);
  }

  /**
   * True when the event follows a decision whose reasons the policy hid: an approval's reason is that
   * decision's `approve.reason`, copied before the mask.
   */
  withholdReason(e: { decision_id?: string }): boolean {
    return e.decision_id !== undefined && this.#reasons.has(e.decision_id);
  }

  /** True when the event follows a decision, or belongs to a session, whose statement text the policy hid. */
  withhold(e: { decision_id?: string; session_id?: string }): boolean {
    return (e.decision_id !== undefined && this.#decisions.has(e.decision_id)) || (e.session_id !== undefined && this.#sessions.has(e.session_id));
  }
}

function remember(set: Set<string>, id: string, max: number): void {
  set.delete(id);
  set.add(id);
  if (set.size > max) set.delete(set.values().next().value!);
}

/** A mask path (JSON pointer) that is, contains or lies inside what a lifecycle subject is made of. */
export function touchesSubject(path: string): boolean {
  const keys = path
    .split("/")
    .slice(1)
    .map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (keys.length === 0 || keys[0] !== "input") return keys.length === 0;
  if (keys.length === 1) return true;
  if (keys[1] === "http") return keys.length === 2 || !HTTP_NOT_SUBJECT.has(keys[2]!);
  if (keys[1] !== "postgres") return false;
  // Ancestor or self of input.postgres.statements[n].sql, or anything inside it.
  const n = Math.min(keys.length, POSTGRES_TEXT.length);
  for (let i = 0; i < n; i++) if (POSTGRES_TEXT[i] !== "*" && POSTGRES_TEXT[i] !== keys[i]) return false;
  return true;
}
