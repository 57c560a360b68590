// Base64 inside a longer text: `Bearer <jwt>`, `…#id_token=<jwt>&state=…`, a SAML or mail message in an XML
// element or a line of text. A reader cuts the token out and decodes it as readily as a string that is
// nothing but base64 (base64-view.ts), so each run is masked the same way, where it stands.

import { maskBase64 } from "./base64-view.js";

/** A run of base64 or base64url long enough to carry a value, or dot-separated segments of it (a JWT). */
const RUN = /[A-Za-z0-9+/_-]{16,}={0,2}(?:\.[A-Za-z0-9_-]*)*/g;
/**
 * Longer strings are cut into runs by a loop, not by RUN: V8's backtracking stack overflows on a run of
 * some millions of characters (a large image), which refused the response instead of passing it.
 */
const MAX_REGEX_CHARS = 1024 * 1024;

const B64 = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-") B64[c.charCodeAt(0)] = 1;
const isB64 = (c: number): boolean => c < 128 && B64[c] === 1;
/** base64url's characters: what RUN allows after a dot. */
const isUrl = (c: number): boolean => isB64(c) && c !== 0x2b && c !== 0x2f;

/** `s` with `each` applied to every run RUN would find, found by a loop (for strings too long for RUN). */
function replaceRuns(s: string, each: (run: string) => string): string {
  let out = "";
  let last = 0;
  for (let i = 0; i < s.length; ) {
    if (!isB64(s.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i;
    while (j < s.length && isB64(s.charCodeAt(j))) j++;
    if (j - i < 16) {
      i = j;
      continue;
    }
    let k = j;
    while (k < s.length && k - j < 2 && s.charCodeAt(k) === 0x3d) k++;
    while (k < s.length && s.charCodeAt(k) === 0x2e) {
      k++;
      while (k < s.length && isUrl(s.charCodeAt(k))) k++;
    }
    const run = s.slice(i, k);
    const masked = each(run);
    if (masked !== run) {
      out += s.slice(last, i) + masked;
      last = k;
    }
    i = k;
  }
  return last === 0 ? s : out + s.slice(last);
}

/**
 * `s` with each base64 run in it passed through maskBase64 (readable text decoded, masked by `mask`,
 * encoded back); null when `mask` nulls one, as a null strategy nulls the string it hits.
 */
export function maskBase64Runs(s: string, mask: (text: string) => string | null): string | null {
  if (s.length < 16) return s;
  let nulled = false;
  const each = (run: string): string => {
    const masked = maskBase64(run, mask);
    if (masked === null) nulled = true;
    return masked ?? run;
  };
  const out = s.length > MAX_REGEX_CHARS ? replaceRuns(s, each) : s.replace(RUN, each);
  return nulled ? null : out;
}
