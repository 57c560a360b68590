// What the server says outside result rows: error and notice fields, and notification payloads.
// Pure functions; the session calls them on each ErrorResponse/NoticeResponse/NotificationResponse.
import { DETECTOR_NAMES, maskText } from "../mask/index.js";
import type { NoticeFields } from "./protocol/index.js";

export const WITHHELD = "(withheld by regate: the statement reads protected columns)";

/** Fields that name things (severity, SQLSTATE, schema/table/column/type/constraint, position, source). */
const NAMING_FIELDS = new Set(["S", "V", "C", "s", "t", "c", "d", "n", "P", "p", "F", "L", "R"]);

/**
 * ErrorResponse/NoticeResponse fields as the client may see them.
 *
 * `protectedRead`: the statement in flight reads a masked or protected column (the decision masks
 * something). The server quotes row values in its texts (`invalid input syntax for type integer:
 * "alice@example.com"`, `Key (email)=(...)`, `Failing row contains (...)`, a RAISE in a function), so
 * then every free-text field but the message is withheld, and in the message every quoted or
 * parenthesised-after-`=` part is replaced. Otherwise values that look like personal data or secrets
 * are masked by the detectors, as in any text. Returns undefined when nothing changes.
 */
export function screenNoticeFields(fields: NoticeFields, protectedRead: boolean): NoticeFields | undefined {
  const out: NoticeFields = {};
  let changed = false;
  for (const [code, text] of Object.entries(fields)) {
    let next = text;
    if (!NAMING_FIELDS.has(code)) {
      if (protectedRead) next = code === "M" ? withoutQuoted(text) : WITHHELD;
      next = maskText(next, DETECTOR_NAMES, "redact") ?? "";
    }
    if (next !== text) changed = true;
    out[code] = next;
  }
  return changed ? out : undefined;
}

/**
 * A NotificationResponse payload. Another connection (not through regate) may NOTIFY anything, so
 * values that look like personal data or secrets are masked; a session through regate cannot send a
 * protected column to pg_notify (the policy refuses volatile functions fed by one).
 */
export function screenNotificationPayload(payload: string): string {
  return maskText(payload, DETECTOR_NAMES, "redact") ?? "";
}

function withoutQuoted(text: string): string {
  return text
    .replace(/"(?:[^"]|"")*"/g, '"****"')
    .replace(/'(?:[^']|'')*'/g, "'****'")
    .replace(/\)=\((.*)\)/g, ")=(****)")
    .replace(/(Failing row contains \()(.*)(\))/g, "$1****$3");
}
