/** What JSON.stringify leaves raw and a terminal acts on or hides: DEL, C1, line and paragraph separators, bidi and zero-width marks. */
const INVISIBLE = "[\\u007f-\\u009f\\u00ad\\u061c\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff\\ufff9-\\ufffb]";
const INVISIBLE_ALL = new RegExp(INVISIBLE, "g");
const CONTROL_OR_INVISIBLE = new RegExp(`[\\u0000-\\u001f]|${INVISIBLE}`);

/** True when `text` holds a character that `shown` escapes besides quoting: C0 controls and the INVISIBLE ones. */
export const hasControlCharacters = (text: string): boolean => CONTROL_OR_INVISIBLE.test(text);

/**
 * A name read from a bundle before it was verified (a file path, a key id, an algorithm), as error messages show
 * it: as written when it is a plain name (`data.json`, `src/policy.rego`, `SHA-256`), else quoted with control
 * characters (C0, DEL, C1), line and paragraph separators, bidi and zero-width marks escaped, and cut at 120
 * characters. The message reaches logs, /status and `regate status` on an operator's terminal, where a raw ESC or
 * CSI would let whoever chose the name rewrite what the operator reads.
 */
export function shown(name: string): string {
  if (/^[\w./@+-]{1,120}$/.test(name)) return name;
  const cut = name.length > 120 ? `${name.slice(0, 120)}…` : name;
  return JSON.stringify(cut).replace(INVISIBLE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
