// Header and parameter names as words, matched against a decision's field rules: an upstream names a
// record's field in a header the way it likes (`X-Customer-Email`, `customerEmail=`, `X-Card.Number`).
import { fieldNameFold } from "./field-names.js";
import { mergeActions, type FieldAction } from "./mask-actions.js";

/** A name as a reader sees it (look-alike and invisible characters folded, field-names.ts), case kept. */
const asShown = fieldNameFold("exact");
/** As field-names.ts compares names by spelling: lowercased, separators dropped. */
const spelled = fieldNameFold("spelling");
const WORD = /[\p{L}\p{N}\p{M}]+/gu;
const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;
/** camelCase and PascalCase humps, and the end of an acronym (`SSNValue`): word starts inside a run of letters. */
const HUMP = /(?<=[\p{Ll}\p{N}])(?=\p{Lu})|(?<=\p{Lu})(?=\p{Lu}\p{Ll})/u;

/**
 * A name as words, each spelled as field-names.ts spells it: split at anything not a letter or digit and at
 * camelCase humps. `customerEmail`, `customer_email`, `X-Customer-Email` and `customer[email]` all hold the
 * word "email". With `dotAfter`, each word's entry says whether a `.` comes between it and the next word.
 */
export function wordsOf(name: string, dotAfter?: boolean[]): string[] {
  const out: string[] = [];
  const shown = asShown(name);
  for (const m of shown.matchAll(WORD)) {
    for (const w of m[0].split(HUMP)) {
      out.push(spelled(w));
      dotAfter?.push(false);
    }
    if (dotAfter && out.length > 0) dotAfter[out.length - 1] = dotBefore(shown, m.index + m[0].length);
  }
  return out;
}

/** Whether a `.` comes at or after `from` before the next letter or digit (a trailing dot ends nothing). */
function dotBefore(text: string, from: number): boolean {
  let dot = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (c === ".") dot = true;
    else if (WORD_CHAR.test(c)) return dot;
  }
  return false;
}

/**
 * A header name or a parameter name matches a field rule when a run of its words, spelled together, is the
 * rule's name spelled as JSON keys are by default (http/field-names.ts: case and `_ - . space` do not count):
 * the field `card_number` matches `X-Card-Number`, `X-Cardnumber`, `card-number=`, `cardNumber=` and
 * `X-Customer-Card-Number`; `cardnumber` matches `X-Card-Number` too. Only whole words: `email` does not
 * match `X-Emails-Sent` or `X-Femail`, `ssn` not `X-Session`, `id` not `X-Provider`. Header names are not
 * JSON keys, so a whole-name match would miss the usual `X-<Entity>-<Field>` spelling. They match by spelling
 * under every `http.mask_field_names`: HTTP names are case-insensitive (Node hands them lowercased) and are
 * written with `-` where a JSON key has `_`. Headers regate knows to exist (standard-headers.ts) keep their
 * names out of it. A dotted name is read as field-names.ts reads a dotted key, a path written flat: a run
 * followed by a `.` names what the rest is a member of, not the field (`email.verified`, `ssn.last4`,
 * `X-Email.Verified` pass under `email` and `ssn`), while one in the last part names it (`user.email`,
 * `X-Customer.Full.Name` for `full_name`).
 */
export function ruleInName(rules: ReadonlyMap<string, FieldAction>, longestRule: number, name: string): FieldAction | undefined {
  const dotAfter: boolean[] = [];
  const words = wordsOf(name, dotAfter);
  let action: FieldAction | undefined;
  for (let i = 0; i < words.length; i++) {
    let run = "";
    for (let j = i; j < words.length; j++) {
      run += words[j];
      if (run.length > longestRule) break;
      const a = dotAfter[j] ? undefined : rules.get(run);
      if (a) action = mergeActions(action, a);
    }
  }
  return action;
}
