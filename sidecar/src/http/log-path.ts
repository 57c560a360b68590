// The request path as the request line logs it: personal data and the secrets regate holds masked, in
// whatever spelling the agent chose. The path is the canonical one (path.ts), which keeps every escape of a
// character other than an unreserved one: "alice%40example.com" and "p%40ss%3Aw0rd%21" reach the log as
// sent, where neither the detectors nor a search for the secret as written would find them.

import { DETECTOR_NAMES, findMatches, maskText, secretTexts } from "../mask/index.js";

/** What a secret's place reads in the logged path (the request line's batch scrubber writes the same). */
const SECRET_MARK = "[REDACTED]";
/** What a detected value's place reads (maskText's `redact`). */
const DETECTED_MARK = "****";
const ESCAPE = /%[0-9A-F]{2}/i;

/** A text with, for each of its UTF-16 units, the span of the path it was decoded from. */
interface Decoded {
  text: string;
  from: number[];
  to: number[];
}

/**
 * `path` with each run of escapes decoded as UTF-8 (a canonical path's runs are valid UTF-8); every unit a
 * run decodes to maps to the whole run, so a hit inside it masks all of its escapes.
 */
function decode(path: string): Decoded {
  let text = "";
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < path.length; ) {
    if (path.charCodeAt(i) === 0x25 && ESCAPE.test(path.slice(i, i + 3))) {
      const start = i;
      const bytes: number[] = [];
      while (path.charCodeAt(i) === 0x25 && ESCAPE.test(path.slice(i, i + 3))) {
        bytes.push(parseInt(path.slice(i + 1, i + 3), 16));
        i += 3;
      }
      const run = Buffer.from(bytes).toString("utf8");
      for (let k = 0; k < run.length; k++) {
        from.push(start);
        to.push(i);
      }
      text += run;
    } else {
      text += path[i];
      from.push(i);
      to.push(i + 1);
      i++;
    }
  }
  return { text, from, to };
}

type Span = [start: number, end: number, mark: string];

/** Every place in `text` holding one of `forms` (longest first, as secretTexts orders them). */
function secretSpans(text: string, forms: readonly string[]): Span[] {
  const spans: Span[] = [];
  for (const f of forms) {
    for (let at = text.indexOf(f); at >= 0; at = text.indexOf(f, at + 1)) spans.push([at, at + f.length, SECRET_MARK]);
  }
  return spans;
}

/** `text` with `spans` (of `text`, or of the path a Decoded came from) replaced; overlaps merged. */
function replaceSpans(text: string, spans: Span[]): string {
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = "";
  let pos = 0;
  let last: Span | undefined;
  const merged: Span[] = [];
  for (const s of spans) {
    if (last && s[0] < last[1]) {
      // A secret overlapping a detected value: the secret's mark wins (it says more about what was there).
      last[1] = Math.max(last[1], s[1]);
      if (s[2] === SECRET_MARK) last[2] = SECRET_MARK;
      continue;
    }
    last = [s[0], s[1], s[2]];
    merged.push(last);
  }
  for (const [s, e, mark] of merged) {
    out += text.slice(pos, s) + mark;
    pos = e;
  }
  return out + text.slice(pos);
}

/**
 * The log path for a canonical request path: secrets first (a detector could otherwise cut one in pieces,
 * none of which the request line's scrubber would know), then detected values, on the text as sent and
 * then, where escapes remain, on its decoded text with each hit's escapes replaced. Pure for a given
 * `secrets`: the gateway memoises it per path (short-memo.ts).
 */
export function logPathMasker(secrets: readonly string[]): (path: string) => string {
  const forms = secretTexts(secrets);
  return (path) => {
    let out = replaceSpans(path, secretSpans(path, forms));
    out = maskText(out, DETECTOR_NAMES, "redact") ?? "";
    if (!out.includes("%")) return out;
    const d = decode(out);
    const spans = secretSpans(d.text, forms);
    for (const m of findMatches(d.text, DETECTOR_NAMES)) spans.push([m.start, m.end, DETECTED_MARK]);
    if (spans.length === 0) return out;
    return replaceSpans(out, spans.map(([s, e, mark]): Span => [d.from[s]!, d.to[e - 1]!, mark]));
  };
}
