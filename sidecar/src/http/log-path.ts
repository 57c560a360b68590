// The request path as the request line logs it: personal data and the secrets regate holds masked, in
// whatever spelling the agent chose. The path is the canonical one (path.ts), which keeps every escape of a
// character other than an unreserved one: "alice%40example.com" and "p%40ss%3Aw0rd%21" reach the log as
// sent, where neither the detectors nor a search for the secret as written would find them.

import { REDACTED } from "../audit/index.js";
import { DETECTOR_NAMES, findMatches, maskText, secretTexts } from "../mask/index.js";
import { applyEdits, decodedView, sentSpan } from "./percent-view.js";

/** What a secret's place reads in the logged path: what the request line's batch scrubber writes. */
const SECRET_MARK = REDACTED;
/** What a detected value's place reads (maskText's `redact`). */
const DETECTED_MARK = "****";

type Span = [start: number, end: number, mark: string];

/** Every place in `text` holding one of `forms` (longest first, as secretTexts orders them). */
function secretSpans(text: string, forms: readonly string[]): Span[] {
  const spans: Span[] = [];
  for (const f of forms) {
    for (let at = text.indexOf(f); at >= 0; at = text.indexOf(f, at + 1)) spans.push([at, at + f.length, SECRET_MARK]);
  }
  return spans;
}

/** A secret overlapping a detected value: the secret's mark wins (it says more about what was there). */
const stronger = (a: string, b: string): string => (a === SECRET_MARK || b === SECRET_MARK ? SECRET_MARK : a);

/**
 * The log path for a canonical request path: secrets first (a detector could otherwise cut one in pieces,
 * none of which the request line's scrubber would know), then detected values, on the text as sent and
 * then, where escapes remain, on its decoded text with each hit's escapes replaced. Pure for a given
 * `secrets`: the gateway memoises it per path (short-memo.ts).
 */
export function logPathMasker(secrets: readonly string[]): (path: string) => string {
  const forms = secretTexts(secrets);
  return (path) => {
    let out = applyEdits(path, secretSpans(path, forms), stronger);
    out = maskText(out, DETECTOR_NAMES, "redact") ?? "";
    if (!out.includes("%")) return out;
    const d = decodedView(out);
    const spans = secretSpans(d.text, forms);
    for (const m of findMatches(d.text, DETECTOR_NAMES)) spans.push([m.start, m.end, DETECTED_MARK]);
    if (spans.length === 0) return out;
    return applyEdits(out, spans.map(([s, e, mark]): Span => [...sentSpan(d, s, e), mark]), stronger);
  };
}
