// `name=value` pairs in a JSON string: a URL's query or fragment (`"next": "/customers?page=2&ssn=…"`), a
// form-encoded payload carried as a string, a log line's `ssn=…` (logfmt's `ssn="…"` too), a record printed
// by Lombok or a Kotlin data class (`Customer(name=Ann, ssn=…)`), a label list (`env=prod,ssn=…`). The name
// is a field name written as data, so a field rule applies to the value as it would to a member of that name.
// `name: value` in text is not read: where such a value ends cannot be told (`Name: Ann Smith`), and a prose
// sentence with a colon after a field's name is far more common than a record; detectors find those values.

import { fieldNameFold } from "./field-names.js";
import type { FieldAction } from "./mask-actions.js";

/** A value spelled as its pair's name (`card_number=cardNumber`) is that name, whatever the deployer's matching. */
const spelled = fieldNameFold("spelling");

/** Characters that end a pair's name or unquoted value (besides `,`, see PAIR). */
const NAME_CHARS = String.raw`[^=?&;#\s"'<>,()[\]{}|]{1,64}`;
const VALUE_CHAR = String.raw`[^&;#\s"'<>,)\]}|]`;

/**
 * A pair starts a string or follows `?`, `&`, `;`, `#`, `,`, `|`, an opening bracket or white space; its name
 * is up to 64 characters of none of those nor `=`. Its value is quoted (`"…"` with backslash escapes, `'…'`)
 * or runs to the next delimiter, a quote, an angle or closing bracket (which end a URL or a record in text);
 * a comma ends it only where another pair starts after it (`a=1,ssn=…`), so `?ids=1,2,3` keeps its value.
 * `ssn==…` is a comparison, not a pair. An empty value holds nothing to mask, nor does one that is its pair's
 * own name (`card_number=cardNumber`): `create(ssn=ssn, email=email)` in a diff is code passing a variable,
 * not a record. (Only the whole name: `email=bob@mail.email` is an address.)
 */
const PAIR = new RegExp(String.raw`(^|[?&;#\s,|([{])(${NAME_CHARS})=(?!=)("(?:[^"\\]|\\.)*"|'[^']*'|(?:${VALUE_CHAR}|,(?!\s*${NAME_CHARS}=))+)`, "g");

/** `s` with each pair whose name `actionFor` gives an action masked by `mask` (the value percent-decoded). */
export function maskQueryPairs(s: string, actionFor: (name: string) => FieldAction | undefined, mask: (value: string, action: FieldAction) => string | null): string {
  if (!s.includes("=")) return s;
  return s.replace(PAIR, (whole, lead: string, name: string, value: string) => {
    const action = actionFor(decoded(name));
    if (action === undefined) return whole;
    const quote = value.charCodeAt(0) === 0x22 || value.charCodeAt(0) === 0x27 ? value[0]! : "";
    const inner = quote === "" ? value : value.slice(1, -1);
    if (inner === "") return whole;
    const clear = quote === "" ? decoded(inner) : inner;
    if (clear.length <= 64 && spelled(clear) === spelled(decoded(name))) return whole;
    const masked = mask(clear, action);
    if (masked === clear) return whole;
    // A quoted value is written back as text unless the mask wrote its quote or an escape into it.
    const written = masked === null ? "" : quote !== "" && !masked.includes(quote) && !masked.includes("\\") ? masked : encodeURIComponent(masked);
    return `${lead}${name}=${quote}${written}${quote}`;
  });
}

/** Percent escapes (and `+` for a space, as forms write it) decoded; text that is not valid percent-encoding as it is. */
function decoded(s: string): string {
  if (!s.includes("%") && !s.includes("+")) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}
