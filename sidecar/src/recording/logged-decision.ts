// What of a decision, and of the input it was taken on, a recording may keep: never more than the decision log
// shows. The log mask rewrites the logged event only; a record built from the decision as decided (its reasons,
// an approval's reason) or from the statement as it ran (its text, its Bind values) kept what the policy keeps
// out of logs. So each of these is read from the decision's logged view whenever the mask touched it.

import { loggedReasons, type Decision, type DecisionEvent } from "../decision/index.js";
import { REDACTED } from "../mask/index.js";

type View = Pick<DecisionEvent, "input" | "result" | "erased" | "masked">;

/** The `decision` member of a statement or request record. */
export function recordedDecision(d: Decision, view: View | undefined): Record<string, unknown> {
  const reasons = view ? loggedReasons({ decision: d, result: view.result, erased: view.erased, masked: view.masked }) : d.reasons;
  const hidden = reasons !== d.reasons;
  return {
    decision_id: d.decision_id,
    outcome: d.outcome,
    reasons,
    error_code: d.error_code,
    // The rules name columns and fields; a log that withholds them withholds them here too.
    mask: view && maskTouches(view, RESULT_MASK) ? undefined : d.mask,
    dry_run: d.dry_run,
    revision: d.revision,
    approve: d.approve ? { reason: hidden ? (reasons[0] ?? REDACTED) : d.approve.reason } : undefined,
  };
}

const tokens = (path: string): string[] =>
  path
    .split("/")
    .slice(1)
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));

/** Some mask path of the view is, contains or lies inside `member` ("*": any array index). */
export function maskTouches(view: View, member: readonly string[]): boolean {
  return [...view.erased, ...view.masked].some((p) => {
    const keys = tokens(p);
    const n = Math.min(keys.length, member.length);
    for (let i = 0; i < n; i++) if (member[i] !== "*" && member[i] !== keys[i]) return false;
    return true;
  });
}

const RESULT_MASK = ["result", "mask"];
const STATEMENT_TEXT = ["input", "postgres", "statements", "*", "sql"];
const PARAMETERS = ["input", "postgres", "parameters"];
const TABLES = ["input", "postgres", "statements", "*", "tables"];

/**
 * A Postgres statement's text as the log shows it, when the mask hid any of it: each statement's logged text
 * (REDACTED where the mask erased it), joined as a simple query joins them. Undefined when the mask left the
 * text alone: the record keeps the text it ran, redacted as before (redact.ts).
 */
export function loggedSql(view: View | undefined): string | undefined {
  if (!view || !maskTouches(view, STATEMENT_TEXT)) return undefined;
  const statements = (view.input as { postgres?: { statements?: { sql?: unknown }[] } }).postgres?.statements;
  if (!Array.isArray(statements) || statements.length === 0) return REDACTED;
  return statements.map((s) => (typeof s?.sql === "string" ? s.sql : REDACTED)).join("; ");
}

/** The mask hid some Bind value: the record keeps none. */
export function parametersHidden(view: View | undefined): boolean {
  return view !== undefined && maskTouches(view, PARAMETERS);
}

/** The mask hid some statement's tables: the record names none. */
export function tablesHidden(view: View | undefined): boolean {
  return view !== undefined && maskTouches(view, TABLES);
}
