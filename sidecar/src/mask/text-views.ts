// Other spellings of a text, as a reader (an agent, a browser, a URL parser) would read it: percent escapes
// and HTML character references decoded, compatibility characters (fullwidth digits, "＠") folded by NFKC,
// invisible characters dropped. Detectors match ASCII as sent, so a value spelled any of these ways would
// pass them; they are run over these views as well, and each hit is mapped back to the characters as sent
// that spell it, so only those are masked and every other byte stays as it came.

/**
 * A spelling of a text: for each UTF-16 unit of `text`, the span `[from, to)` of the text as sent it came
 * from. A character that decodes from several (an escape run, an entity) maps to all of them.
 */
export interface TextView {
  text: string;
  from: number[];
  to: number[];
}

/** Views decoded one layer at a time with their spans mapped back; deeper layers are only checked. */
const MAX_MAPPED_LAYERS = 4;
/** How many layers in all are decoded before regate stops looking (a deeper value is then left as found). */
const MAX_LAYERS = 12;

const PERCENT_RUN = /(?:%[0-9A-Fa-f]{2})+/y;
/** Numeric references without the ";" too: browsers decode `&#64` as "@". */
const NUMERIC_REF = /&#(?:[xX]([0-9A-Fa-f]{1,6})|([0-9]{1,7}));?/y;
const NAMED_REF = /&([A-Za-z]{2,8});/y;
/**
 * Named references to the characters detectors look for (and the escapes that could hide them in turn);
 * a name not here is left as sent. Letters and digits have no names.
 */
const NAMED: Readonly<Record<string, string>> = Object.freeze({
  amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0", commat: "@", period: ".", hyphen: "-",
  dash: "\u2010", minus: "\u2212", lowbar: "_", plus: "+", num: "#", percnt: "%", colon: ":", sol: "/",
  bsol: "\\", lpar: "(", rpar: ")", comma: ",", semi: ";", equals: "=", excl: "!", quest: "?", verbar: "|",
  dollar: "$", ast: "*", tilde: "~", lsqb: "[", rsqb: "]", lcub: "{", rcub: "}", Tab: "\t", NewLine: "\n",
});
/**
 * Characters nobody sees: Default_Ignorable code points (zero-width spaces and joiners, soft hyphens,
 * variation selectors, the BOM) and controls other than tab, line feed and carriage return, which do
 * separate words. `123-45-67\u200b89` reads as an SSN.
 */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/u;
const INVISIBLE_ALL = new RegExp(INVISIBLE.source, "gu");
/** Text a view could differ in (a quick test before the exact one). */
const MAY_DIFFER = /[%&\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\uffff]/;
const MAY_ESCAPE = /%[0-9A-Fa-f]{2}|&#?[A-Za-z0-9]/;
const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;
const SPACE_AT_ENDS = /^[\p{White_Space}]+|[\p{White_Space}]+$/gu;

/**
 * `text` decoded by one layer: each run of %XX escapes as UTF-8, each HTML character reference, each
 * non-ASCII code point by NFKC on its own, invisible characters dropped. Undefined when nothing changes.
 * NFKC is applied code point by code point so that each folded character maps to the one it came from;
 * the compositions that whole-text NFKC would also make never produce the ASCII detectors look for.
 */
export function decodeLayer(text: string): TextView | undefined {
  if (!MAY_DIFFER.test(text)) return undefined;
  // Non-ASCII text is common and mostly already in NFKC: one native pass rules it out.
  if (!MAY_ESCAPE.test(text) && !INVISIBLE.test(text) && text.normalize("NFKC") === text) return undefined;
  let out = "";
  const from: number[] = [];
  const to: number[] = [];
  let changed = false;
  const emit = (s: string, start: number, end: number): void => {
    out += s;
    for (let k = 0; k < s.length; k++) {
      from.push(start);
      to.push(end);
    }
  };
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      PERCENT_RUN.lastIndex = i;
      const run = PERCENT_RUN.exec(text);
      if (run) {
        const bytes = Buffer.from(run[0].replaceAll("%", ""), "hex");
        emit(bytes.toString("utf8"), i, i + run[0].length);
        i += run[0].length;
        changed = true;
        continue;
      }
    } else if (c === 0x26) {
      const ref = reference(text, i);
      if (ref) {
        emit(ref.value, i, ref.end);
        i = ref.end;
        changed = true;
        continue;
      }
    } else if (c >= 0x7f || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d)) {
      const cp = text.codePointAt(i)!;
      const width = cp > 0xffff ? 2 : 1;
      const ch = text.slice(i, i + width);
      const folded = INVISIBLE.test(ch) ? "" : ch.normalize("NFKC");
      if (folded !== ch) changed = true;
      emit(folded, i, i + width);
      i += width;
      continue;
    }
    emit(text[i]!, i, i + 1);
    i++;
  }
  return changed ? { text: out, from, to } : undefined;
}

/** The HTML character reference at `i` (a `&`), decoded, and where it ends; undefined if there is none. */
function reference(text: string, i: number): { value: string; end: number } | undefined {
  NUMERIC_REF.lastIndex = i;
  const num = NUMERIC_REF.exec(text);
  if (num) {
    const cp = num[1] !== undefined ? parseInt(num[1], 16) : parseInt(num[2]!, 10);
    // What a browser shows for a reference to no character: nothing a detector could match.
    const value = cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0 ? "\ufffd" : String.fromCodePoint(cp);
    return { value, end: i + num[0].length };
  }
  NAMED_REF.lastIndex = i;
  const named = NAMED_REF.exec(text);
  const value = named ? NAMED[named[1]!] : undefined;
  return named && value !== undefined ? { value, end: i + named[0].length } : undefined;
}

/** `inner` (a view of `outer.text`) with its spans mapped through `outer` to the text as sent. */
function compose(outer: TextView | undefined, inner: TextView): TextView {
  if (!outer) return inner;
  const from = inner.from.map((f) => outer.from[f]!);
  const to = inner.to.map((t) => outer.to[t - 1]!);
  return { text: inner.text, from, to };
}

/**
 * The decoded views of `text`, outermost first, each mapped back to `text`; and, when the text is encoded
 * deeper than that, the fully decoded text (`deeper`), whose hits cannot be mapped back. Empty for text
 * that reads as it is written (all but a few values: this is the fast path).
 */
export function decodedViews(text: string): { views: TextView[]; deeper?: string } {
  const views: TextView[] = [];
  let view: TextView | undefined;
  for (let layer = 0; layer < MAX_MAPPED_LAYERS; layer++) {
    const next = decodeLayer(view ? view.text : text);
    if (!next) return { views };
    view = compose(view, next);
    views.push(view);
  }
  let deeper = view!.text;
  let any = false;
  for (let layer = MAX_MAPPED_LAYERS; layer < MAX_LAYERS; layer++) {
    const next = decodeLayer(deeper);
    if (!next) break;
    deeper = next.text;
    any = true;
  }
  return any ? { views, deeper } : { views };
}

/**
 * A field name as rules compare it: NFKC-folded (fullwidth `ｓｓｎ` is `ssn`), invisible characters dropped
 * (`s\u200bsn`, `ssn\u0000`), white space at the ends trimmed. Case is the caller's to fold. A reader sees
 * all of these as the name the rule gives, so the rule must see them so too.
 */
export function foldName(name: string): string {
  if (PRINTABLE_ASCII.test(name)) return name;
  return name.replace(INVISIBLE_ALL, "").normalize("NFKC").replace(INVISIBLE_ALL, "").replace(SPACE_AT_ENDS, "");
}
