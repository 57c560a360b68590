import { Backend, decodeNotice, encodeNotice, type NoticeFields } from "../protocol/index.js";
import { observeText } from "./observe.js";
import type { SessionState } from "./state.js";
import type { Statement } from "./statement.js";

const HINT = "The SQLSTATE and severity are the server's. Ask for less (a narrower statement) or ask an operator to raise this agent's budget. The session is still usable.";

/**
 * An ErrorResponse (already screened) as the client may see it once counted against the budgets
 * (observe.ts observeText): as is within them; past them it keeps its SQLSTATE and severity, with regate's
 * message in place of the server's text.
 */
export function budgetedError(s: SessionState, statement: Statement | undefined, out: Buffer): Buffer {
  const crossed = observeText(s, statement, out.length);
  if (!crossed) return out;
  const server = decodeNotice(out.subarray(5));
  const fields: NoticeFields = { S: server["S"] ?? "ERROR" };
  if (server["V"] !== undefined) fields["V"] = server["V"];
  fields["C"] = server["C"] ?? "XX000";
  fields["M"] = `regate withheld the server's message text: budget exceeded: ${crossed}`;
  fields["H"] = HINT;
  return encodeNotice(Backend.ErrorResponse, fields);
}

/** A NoticeResponse (already screened), or an application_name report, as the client may see it: past the budgets it is dropped (undefined). */
export function budgetedNotice(s: SessionState, statement: Statement | undefined, out: Buffer): Buffer | undefined {
  return observeText(s, statement, out.length) ? undefined : out;
}
