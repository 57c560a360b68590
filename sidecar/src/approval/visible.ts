/**
 * Text an agent wrote, as a reviewer must read it: every character that does not show as itself is written
 * as a `⟨U+XXXX⟩` mark, and runs of blank lines or spaces long enough to push the rest of a statement out of
 * view are shortened to a mark that says how many there were. The marks use ⟨ and ⟩, which are themselves
 * marked when the text has them, so a mark in what a reviewer reads is always regate's.
 *
 * Why each class is marked:
 * - C0/C1 controls: a carriage return ends a `--` comment for PostgreSQL, while a browser draws it as a
 *   space, so `WHERE id = 5 -- only 5<CR>OR true` reads as one commented line and updates every row; ESC
 *   starts terminal sequences (the CLI prints this text).
 * - Format characters (bidi embeddings, overrides and isolates, zero-width characters, the BOM, tags, soft
 *   hyphens), line and paragraph separators: they reorder or hide what is read.
 * - Spaces other than U+0020, Hangul fillers, the braille blank, variation selectors: blank or invisible
 *   glyphs that are other characters than the ones they look like.
 * - Unassigned, private-use and lone-surrogate code points: no glyph a reviewer can trust.
 * - A combining mark on an ASCII character: it turns `a` into a character that only looks like one.
 */

export interface Visible {
  text: string;
  /** Plain sentences about what was marked or shortened; empty when the text shows as it is. */
  notes: string[];
}

const HIDDEN =
  /\r\n?|[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u115f\u1160\u3164\uffa0\u2800\u180b-\u180f\ufe00-\ufe0f\u{e0100}-\u{e01ef}\u27e8\u27e9]|(?<=[\x21-\x7e]\p{M}*)\p{M}/gu;

const NAMES: Readonly<Record<number, string>> = {
  0x00: "NUL",
  0x0d: "CARRIAGE RETURN, a line end for PostgreSQL (it ends a -- comment)",
  0x0b: "LINE TABULATION",
  0x0c: "FORM FEED",
  0x1b: "ESCAPE",
  0x7f: "DELETE",
  0xa0: "NO-BREAK SPACE",
  0xad: "SOFT HYPHEN",
  0x200b: "ZERO WIDTH SPACE",
  0x200c: "ZERO WIDTH NON-JOINER",
  0x200d: "ZERO WIDTH JOINER",
  0x200e: "LEFT-TO-RIGHT MARK",
  0x200f: "RIGHT-TO-LEFT MARK",
  0x2028: "LINE SEPARATOR",
  0x2029: "PARAGRAPH SEPARATOR",
  0x202a: "LEFT-TO-RIGHT EMBEDDING",
  0x202b: "RIGHT-TO-LEFT EMBEDDING",
  0x202c: "POP DIRECTIONAL FORMATTING",
  0x202d: "LEFT-TO-RIGHT OVERRIDE",
  0x202e: "RIGHT-TO-LEFT OVERRIDE",
  0x2060: "WORD JOINER",
  0x2066: "LEFT-TO-RIGHT ISOLATE",
  0x2067: "RIGHT-TO-LEFT ISOLATE",
  0x2068: "FIRST STRONG ISOLATE",
  0x2069: "POP DIRECTIONAL ISOLATE",
  0x27e8: "MATHEMATICAL LEFT ANGLE BRACKET, written as a mark so that no mark can be forged",
  0x27e9: "MATHEMATICAL RIGHT ANGLE BRACKET, written as a mark so that no mark can be forged",
  0x3164: "HANGUL FILLER",
  0xfeff: "ZERO WIDTH NO-BREAK SPACE (BOM)",
};

/** More blank lines than this in a row, or more spaces and tabs than this in a row, are shortened. */
const MAX_LINE_BREAKS = 3;
const MAX_SPACES = 40;
/** At most this many distinct characters are named in a note. */
const NAMED = 8;

const hex = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
const mark = (cp: number) => `⟨${hex(cp)}⟩`;

/** `text` with everything that does not show as itself marked, and what was marked said in `notes`. */
export function visible(text: string): Visible {
  const marked = new Map<number, number>();
  const count = (cp: number) => marked.set(cp, (marked.get(cp) ?? 0) + 1);
  let out = text.replace(HIDDEN, (c) => {
    if (c === "\n" || c === "\t") return c;
    // A carriage return ends the line where PostgreSQL ends it: a mark, then a line break.
    if (c[0] === "\r") return count(0x0d), `${mark(0x0d)}\n`;
    const cp = c.codePointAt(0)!;
    count(cp);
    return mark(cp);
  });
  let shortened = false;
  out = out.replace(new RegExp(`(?:[ \\t]*\\n){${MAX_LINE_BREAKS + 1},}`, "g"), (run) => {
    shortened = true;
    return `\n⟨${run.split("\n").length - 1} line breaks⟩\n`;
  });
  out = out.replace(new RegExp(`[ \\t]{${MAX_SPACES + 1},}`, "g"), (run) => {
    shortened = true;
    return ` ⟨${run.length} ${run.includes("\t") ? "spaces and tabs" : "spaces"}⟩ `;
  });
  const notes: string[] = [];
  if (marked.size > 0) {
    const total = [...marked.values()].reduce((a, b) => a + b, 0);
    const named = [...marked].slice(0, NAMED).map(([cp, n]) => `${hex(cp)}${NAMES[cp] ? ` ${NAMES[cp]}` : ""}${n > 1 ? ` ×${n}` : ""}`);
    const more = marked.size > NAMED ? `, and ${marked.size - NAMED} more kinds` : "";
    notes.push(`${total} character${total > 1 ? "s" : ""} that would not show as ${total > 1 ? "themselves are" : "itself is"} written as ⟨U+…⟩ marks: ${named.join("; ")}${more}.`);
  }
  if (shortened) notes.push(`Long runs of line breaks or spaces are shortened to marks that count them (⟨N line breaks⟩, ⟨N spaces⟩).`);
  const foreign = nonAscii(out);
  if (foreign.length > 0) {
    const named = foreign.slice(0, NAMED).map((c) => `${c} ${hex(c.codePointAt(0)!)}${scriptOf(c)}`);
    const more = foreign.length > NAMED ? `, and ${foreign.length - NAMED} more` : "";
    notes.push(`Non-ASCII characters, some of which look like ASCII letters but are others (another table, column or value): ${named.join(", ")}${more}.`);
  }
  const rtl = foreign.filter((c) => RIGHT_TO_LEFT.test(c));
  if (rtl.length > 0) notes.push(`Right-to-left letters (${rtl.slice(0, NAMED).join(" ")}): read the text strictly left to right, as regate's page draws it; a chat message or a terminal may draw the numbers and punctuation between two of them in reverse order.`);
  return { text: out, notes };
}

/** Distinct non-ASCII characters left after marking (the marks' own brackets aside). */
function nonAscii(text: string): string[] {
  const seen = new Set<string>();
  for (const c of text.replace(/⟨[^⟨⟩]*⟩/g, "")) if (c.codePointAt(0)! > 0x7e) seen.add(c);
  return [...seen];
}

/**
 * Letters of right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko, ... and their presentation forms).
 * They are not marked, being real text, but a viewer that lays text out by the bidi algorithm draws what
 * lies between two of them right to left: `{א, 5, 900000, ב}` is drawn `{ב, 900000, 5, א}`.
 */
const RIGHT_TO_LEFT = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\u{10800}-\u{10fff}\u{1e800}-\u{1efff}]/u;

/** Whether `text` has a right-to-left letter (a viewer without bidi override may draw its neighbours reversed). */
export function hasRightToLeft(text: string): boolean {
  return RIGHT_TO_LEFT.test(text);
}

const SCRIPTS: readonly [RegExp, string][] = [
  [/\p{Script=Cyrillic}/u, "Cyrillic"],
  [/\p{Script=Greek}/u, "Greek"],
  [/\p{Script=Armenian}/u, "Armenian"],
  [/\p{Script=Cherokee}/u, "Cherokee"],
  [/[\uff01-\uff5e]/u, "fullwidth"],
  [/[\u{1d400}-\u{1d7ff}]/u, "mathematical"],
  [/\p{Script=Latin}/u, "Latin"],
];

function scriptOf(c: string): string {
  for (const [re, name] of SCRIPTS) if (re.test(c)) return ` (${name})`;
  return "";
}
