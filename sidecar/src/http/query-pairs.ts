// `name=value` pairs in a JSON string: a URL's query or fragment (`"next": "/customers?page=2&ssn=…"`), a
// form-encoded payload carried as a string, a log line's `ssn=…`. The name is a field name written as data,
// so a field rule applies to the value as it would to a member of that name.

import type { FieldAction } from "./mask-actions.js";

/**
 * A pair starts a string or follows `?`, `&`, `;`, `#` or white space; its name is up to 64 characters of
 * neither delimiters nor `=`, its value runs to the next delimiter (or quote or angle bracket, which end a
 * URL in text). An empty value holds nothing to mask.
 */
const PAIR = /(^|[?&;#\s])([^=?&;#\s"'<>]{1,64})=([^&;#\s"'<>]+)/g;

/** `s` with each pair whose name `actionFor` gives an action masked by `mask` (the value percent-decoded). */
export function maskQueryPairs(s: string, actionFor: (name: string) => FieldAction | undefined, mask: (value: string, action: FieldAction) => string | null): string {
  if (!s.includes("=")) return s;
  return s.replace(PAIR, (whole, lead: string, name: string, value: string) => {
    const action = actionFor(decoded(name));
    if (action === undefined) return whole;
    const clear = decoded(value);
    const masked = mask(clear, action);
    if (masked === clear) return whole;
    return `${lead}${name}=${masked === null ? "" : encodeURIComponent(masked)}`;
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
