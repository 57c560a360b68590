import { printable, printableJson, shownText } from "../recording/index.js";

// The sessions API returns text an agent chose as it sent it: its application_name and the SQL it is running
// (approvals come already marked by their review view). Printed raw to a responder's terminal, ESC starts
// sequences that erase or rewrite lines (a session hides its own row from `sessions list` and draws another
// agent's in its place, so the responder kills the wrong one), set the clipboard (OSC 52) or the window title;
// a line break forges a row; a bidi override reorders the rest. Such text is printed through these helpers,
// as `recordings replay` prints it (recording/timeline.ts).

/** One field of a one-line row: marked as reviewers see text (⟨U+XXXX⟩), then no line break or control left. */
export function field(value: unknown): string {
  return printable(shownText(String(value ?? "")));
}

/** A field cut to one line of at most `max` characters, marked before it is folded (a CR stays visible). */
export function fieldLine(value: unknown, max = 60): string {
  const s = shownText(String(value ?? "")).replace(/\s+/g, " ").trim();
  return printable(s.length > max ? `${s.slice(0, max - 3)}...` : s);
}

/** Pretty JSON whose strings cannot act on a terminal (JSON.stringify leaves C1 controls and bidi raw). */
export function jsonOut(value: unknown): string {
  return `${printableJson(JSON.stringify(value, null, 2))}\n`;
}
