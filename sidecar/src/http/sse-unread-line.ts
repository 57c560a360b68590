// A line of an event stream that no SSE client reads, masked for the readers that do read it.

import { RegateError } from "../errors.js";

/** The fields an SSE client reads (HTML's server-sent events); it ignores every other field. */
const READ_FIELDS = new Set(["data", "event", "id", "retry"]);

/** The field a line names; a byte order mark opening the stream is not part of it (the SSE decoder drops it). */
function fieldName(line: string): string {
  const colon = line.indexOf(":");
  const name = colon < 0 ? line : line.slice(0, colon);
  return name.charCodeAt(0) === 0xfeff ? name.slice(1) : name;
}

/** A line that is neither a comment nor a field an SSE client reads. */
export function unreadLine(line: string): boolean {
  return !line.startsWith(":") && !READ_FIELDS.has(fieldName(line));
}

/**
 * Such a line means nothing to an SSE client and everything to a reader that does not parse events: curl, a
 * client reading the body line by line as JSON (an upstream that writes `json.dumps(row) + "\n\n"` under
 * text/event-stream, the usual slip with a streaming response), pretty-printed JSON served with that type.
 * Those readers see the whole line, so it is masked whole, as event data is: a JSON document by field and
 * detector, text by detector, and under field rules text is refused. Cut at its first colon, as a field is,
 * a document's fields were never found (`{"ssn"` / `"123-45-6789"}`) and a value in the name was never read.
 * undefined: masked to nothing, the line is left out (an empty line would end the event).
 */
export function maskUnreadLine(line: string, mask: (data: string) => string): string | undefined {
  let masked: string;
  try {
    masked = mask(line);
  } catch (err) {
    if (!(err instanceof RegateError)) throw err;
    // Said as what it is: no event's data, but a line outside the event format that regate cannot mask.
    throw new RegateError(err.code, `a line of the event stream that is no event field could not be masked (${err.message})`, { cause: err });
  }
  if (masked === line) return line;
  if (masked === "") return undefined;
  // Still one line, and still one an SSE client ignores: masking must not make a field it reads.
  if (/[\r\n]/.test(masked) || (!masked.startsWith(":") && READ_FIELDS.has(fieldName(masked)))) {
    throw new RegateError("MASK_LINEAGE_UNKNOWN", "server-sent event line cannot be masked");
  }
  return masked;
}

/**
 * Where Python's str.splitlines() also ends a line (requests' iter_lines(decode_unicode=True) reads with it):
 * vertical tab, form feed, the file, group and record separators, NEL, U+2028 and U+2029. SSE ends lines at
 * CR and LF only, so to it they are characters of a value.
 */
const OTHER_BREAK = /[\v\f\x1c-\x1e\x85\u2028\u2029]/;
const OTHER_BREAKS = /([\v\f\x1c-\x1e\x85\u2028\u2029])/;

export const hasOtherBreak = (line: string): boolean => OTHER_BREAK.test(line);

/**
 * A line holding such a break is several lines to a reader that splits there, and `{"ssn": …}` after one, in
 * an event name or a comment whose value regate read as one text, is a whole document to it. The part before
 * the first break is masked as SSE reads it (`first`); each later one as a line of its own (`text`: detectors
 * over it, field rules inside it if it is a JSON document), the breaks kept.
 */
export function maskAcrossBreaks(line: string, first: (part: string) => string | undefined, text: (part: string) => string): string | undefined {
  const parts = line.split(OTHER_BREAKS);
  const out = [first(parts[0]!) ?? ""];
  for (let i = 1; i < parts.length; i += 2) {
    const part = parts[i + 1]!;
    const masked = part === "" ? part : text(part);
    if (/[\r\n]/.test(masked)) throw new RegateError("MASK_LINEAGE_UNKNOWN", "server-sent event line cannot be masked");
    out.push(parts[i]!, masked);
  }
  const joined = out.join("");
  return joined === "" ? undefined : joined;
}
