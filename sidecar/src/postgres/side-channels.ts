// What the server says outside result rows: error and notice fields, and notification payloads.
// Pure functions; the session calls them on each ErrorResponse/NoticeResponse/NotificationResponse.
import { DETECTOR_NAMES, maskText } from "../mask/index.js";
import type { NoticeFields } from "./protocol/index.js";

export const WITHHELD = "(withheld by regate: the statement reads protected columns)";

/** The message the client gets instead of the server's when the statement reads protected columns. */
export const WITHHELD_MESSAGE =
  "regate withheld the server's message text: the statement reads a table with masked or protected columns, whose values the text could carry";
export const WITHHELD_HINT = "The SQLSTATE and severity are the server's. Run the statement without the masked columns to see the server's own message.";

/** Fields kept as the server sent them when the statement reads protected columns: they name catalog objects or code, not values. */
const NAMING_FIELDS = new Set(["S", "V", "C", "s", "t", "c", "d", "n", "P", "F", "L", "R"]);

/**
 * SQLSTATE classes whose DETAIL quotes the row or key a write was refused for (integrity constraints:
 * `Failing row contains (...)`, `Key (email)=(...) already exists`; WITH CHECK OPTION: the failing row),
 * every column of it, whatever the statement named. Their message names the constraint, not values.
 */
const ROW_QUOTING_CLASSES = new Set(["23", "44"]);

/** Whether an error or notice of this SQLSTATE quotes the row or key it is about in its detail. */
export function quotesRow(fields: NoticeFields): boolean {
  return ROW_QUOTING_CLASSES.has((fields["C"] ?? "").slice(0, 2));
}

/**
 * SQLSTATE classes whose texts are about the statement, the session or the transaction, never a row's
 * values: connection (08), feature not supported (0A), transaction state (25, `cannot execute UPDATE in a
 * read-only transaction`), authorization (28), rollback (40: serialization, deadlock), syntax and access
 * (42: raised before any row is read, or naming a policy or privilege), resources (53), object state (55:
 * a lock not available), operator intervention (57: a timeout, a cancel). Any other class raised while a
 * write checks a row (data exceptions from a CHECK or an index expression, a function's RAISE) may quote
 * a column of that row.
 */
const STATEMENT_CLASSES = new Set(["08", "0A", "25", "28", "40", "42", "53", "55", "57"]);

/** Whether an error or notice of this SQLSTATE is about the statement or session rather than a row's values. */
export function aboutStatement(fields: NoticeFields): boolean {
  return STATEMENT_CLASSES.has((fields["C"] ?? "").slice(0, 2));
}

export const WITHHELD_ROW = "(withheld by regate: the row or key this quotes may hold masked or protected columns)";
export const WITHHELD_ROW_HINT =
  "The message, SQLSTATE and constraint, table and column names are the server's; the detail is withheld because it quotes the row or key, which may hold masked columns.";

/**
 * How much of a server text may reach the client: `none` to screen (detectors only), `all` when the
 * statement reads protected columns, `detail` when the text is about a row regate cannot vouch for (a
 * constraint failure of a write to a table with masked columns, or one raised where the statement's facts
 * do not reach: a deferred check at COMMIT, another table's key): its message stays, its detail goes.
 */
export type Exposure = "none" | "detail" | "all";

/**
 * ErrorResponse/NoticeResponse fields as the client may see them.
 *
 * `all`: the statement in flight reads a masked or protected column (the decision masks something).
 * Any free text the server writes can then carry their values, not only what it quotes:
 * `index 607595353 out of valid range` (get_byte on a number made of an SSN), a cast error whose
 * input has quotes of its own, a RAISE in a function, a CONTEXT line, the internal query. So the
 * message and hint become regate's own and detail, context, internal query and internal position are
 * withheld; SQLSTATE, severity and the naming fields stay. `detail`: as `all`, but the server's message
 * and hint are kept (detectors still run on them). `none`: values that look like personal data or
 * secrets are masked by the detectors, as in any text. Returns undefined when nothing changes.
 */
export function screenNoticeFields(fields: NoticeFields, exposure: Exposure): NoticeFields | undefined {
  const out: NoticeFields = {};
  let changed = false;
  for (const [code, text] of Object.entries(fields)) {
    let next: string | undefined = text;
    if (NAMING_FIELDS.has(code)) next = text;
    else if (exposure === "all") next = withheld(code);
    else if (exposure === "detail" && code !== "M" && code !== "H") next = code === "D" ? WITHHELD_ROW : withheld(code);
    else next = maskText(text, DETECTOR_NAMES, "redact") ?? "";
    if (next !== text) changed = true;
    if (next !== undefined) out[code] = next;
  }
  if (exposure !== "none" && fields["H"] === undefined && fields["M"] !== undefined) {
    out["H"] = exposure === "all" ? WITHHELD_HINT : WITHHELD_ROW_HINT;
    changed = true;
  }
  return changed ? out : undefined;
}

/** What replaces a free-text field of a statement that reads protected columns; undefined drops it. */
function withheld(code: string): string | undefined {
  switch (code) {
    case "M":
      return WITHHELD_MESSAGE;
    case "H":
      return WITHHELD_HINT;
    case "p":
      // A position inside the internal query, which is withheld.
      return undefined;
    default:
      return WITHHELD;
  }
}

/**
 * A NotificationResponse payload. Another connection (not through regate) may NOTIFY anything, so
 * values that look like personal data or secrets are masked; a session through regate cannot send a
 * protected column to pg_notify (the policy refuses volatile functions fed by one).
 */
export function screenNotificationPayload(payload: string): string {
  return maskText(payload, DETECTOR_NAMES, "redact") ?? "";
}
