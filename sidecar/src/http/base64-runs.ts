// Base64 inside a longer text: `Bearer <jwt>`, `…#id_token=<jwt>&state=…`, a SAML or mail message in an XML
// element or a line of text. A reader cuts the token out and decodes it as readily as a string that is
// nothing but base64 (base64-view.ts), so each run is masked the same way, where it stands.

import { maskBase64 } from "./base64-view.js";

/** A run of base64 or base64url long enough to carry a value, or dot-separated segments of it (a JWT). */
const RUN = /[A-Za-z0-9+/_-]{16,}={0,2}(?:\.[A-Za-z0-9_-]*)*/g;

/**
 * `s` with each base64 run in it passed through maskBase64 (readable text decoded, masked by `mask`,
 * encoded back); null when `mask` nulls one, as a null strategy nulls the string it hits.
 */
export function maskBase64Runs(s: string, mask: (text: string) => string | null): string | null {
  if (s.length < 16) return s;
  let nulled = false;
  const out = s.replace(RUN, (run) => {
    const masked = maskBase64(run, mask);
    if (masked === null) nulled = true;
    return masked ?? run;
  });
  return nulled ? null : out;
}
