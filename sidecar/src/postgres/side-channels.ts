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
 * ErrorResponse/NoticeResponse fields as the client may see them.
 *
 * `protectedRead`: the statement in flight reads a masked or protected column (the decision masks
 * something). Any free text the server writes can then carry their values, not only what it quotes:
 * `index 607595353 out of valid range` (get_byte on a number made of an SSN), a cast error whose
 * input has quotes of its own, a RAISE in a function, a CONTEXT line, the internal query. So the
 * message and hint become regate's own and detail, context, internal query and internal position are
 * withheld; SQLSTATE, severity and the naming fields stay. Otherwise values that look like personal
 * data or secrets are masked by the detectors, as in any text. Returns undefined when nothing changes.
 */
export function screenNoticeFields(fields: NoticeFields, protectedRead: boolean): NoticeFields | undefined {
  const out: NoticeFields = {};
  let changed = false;
  for (const [code, text] of Object.entries(fields)) {
    let next: string | undefined = text;
    if (!NAMING_FIELDS.has(code)) next = protectedRead ? withheld(code) : (maskText(text, DETECTOR_NAMES, "redact") ?? "");
    if (next !== text) changed = true;
    if (next !== undefined) out[code] = next;
  }
  if (protectedRead && fields["H"] === undefined && fields["M"] !== undefined) {
    out["H"] = WITHHELD_HINT;
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
