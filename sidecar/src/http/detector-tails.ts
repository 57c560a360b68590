// Where, at the end of a text that goes on in the next event of a stream, a detector match may have begun and
// not yet ended: what a stream must hold back until it knows (stream-joins.ts). Each answer over-approximates
// the detector it stands for (mask/detectors.ts): a start it misses would let half a value out, a start it
// reports too early only holds an event a little longer.

import type { DetectorName } from "../decision/types.js";
import { decodedViews } from "../mask/text-views.js";

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isUpper = (c: number): boolean => c >= 65 && c <= 90;
const isLower = (c: number): boolean => c >= 97 && c <= 122;
const isAlnum = (c: number): boolean => isDigit(c) || isUpper(c) || isLower(c);
/** Characters of an email's local part (the detector's class). */
const isLocal = (c: number): boolean => isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
/** Characters of an email's domain. */
const isDomain = (c: number): boolean => isAlnum(c) || c === 46 || c === 45;
/** Characters of tokens (secrets, JWT parts). */
const isToken = (c: number): boolean => isAlnum(c) || c === 95 || c === 45;

/** Start of the run of `cls` characters that ends `t`. */
function runStart(t: string, end: number, cls: (c: number) => boolean): number {
  let i = end;
  while (i > 0 && cls(t.charCodeAt(i - 1))) i--;
  return i;
}

/**
 * Cards: a match holds 13 to 19 digits, whole groups of a run of digits with single spaces or dashes between.
 * One that goes on past `t` has at most 18 of its digits in `t`: the groups of the run's last 18 digits.
 */
function cardTail(t: string): number {
  let i = t.length;
  const sep = (c: number): boolean => c === 32 || c === 45;
  if (i > 0 && sep(t.charCodeAt(i - 1))) i--;
  let start = -1;
  let digits = 0;
  for (;;) {
    const groupEnd = i;
    while (i > 0 && isDigit(t.charCodeAt(i - 1))) i--;
    const n = groupEnd - i;
    if (n === 0 || digits + n > 18) break;
    digits += n;
    start = i;
    if (i > 0 && sep(t.charCodeAt(i - 1)) && i > 1 && isDigit(t.charCodeAt(i - 2))) i--;
    else break;
  }
  if (start < 0) start = t.length;
  // Digits inside a UUID are no card: while the text may still be a UUID under way, the card cannot be told.
  const hex = runStart(t, t.length, isUuidChar);
  if (t.length - hex < 36 && /\d/.test(t.slice(hex))) start = Math.min(start, hex);
  return start;
}

const isUuidChar = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 45;

// Short detectors: their partial forms as patterns over the last characters of the text (bounded, so linear).
const SSN_TAIL = /(?<![\d-])\d{1,3}(?:[- ](?:\d{1,2}(?:[- ]\d{0,4})?)?)?$/;
const PHONE_TAIL = /[+(\d][\d().+ -]{0,29}$/;
const IBAN_TAIL = /(?<![A-Za-z0-9])[A-Z](?:[A-Z](?:\d(?:\d(?: ?[A-Z0-9]){0,33} ?)?)?)?$/;
const SHORT_WINDOW = 64;

function patternTail(t: string, re: RegExp): number {
  const from = Math.max(0, t.length - SHORT_WINDOW);
  const m = re.exec(from === 0 ? t : t.slice(from));
  return m ? from + m.index : t.length;
}

/** The longest local part an address has (RFC 5321), as the email detector reads it. */
const MAX_LOCAL = 64;

/**
 * Emails: an `@` with a domain under way holds from its local part on. A local part alone is held only when it
 * does not read as a word (digits, `_`, `%`, `+`, or a dot or dash inside it): prose deltas end in words, and
 * a plain word sent before its `@domain` arrives still leaves the address masked (the rest is masked). A run
 * longer than a local part can be starts no address (the detector reads none inside a longer run): a long
 * digit, hex or base64url run is not held, else it would wait for the bound and go out masked.
 */
function emailTail(t: string): number {
  const domain = runStart(t, t.length, isDomain);
  if (domain > 0 && t.charCodeAt(domain - 1) === 64) {
    const local = runStart(t, domain - 1, isLocal);
    if (domain - 1 - local <= MAX_LOCAL) return local;
  }
  const local = runStart(t, t.length, isLocal);
  if (local === t.length || t.length - local > MAX_LOCAL) return t.length;
  return /[0-9_%+]|[.-][A-Za-z0-9]/.test(t.slice(local)) ? local : t.length;
}

const SECRET_PREFIX = /^(?:sk_|rk_|sk-|gh[pousr]_|github_pat_|xox[abposr]-|glpat-|npm_|AIza)/;

function secretTail(t: string): number {
  const token = runStart(t, t.length, isToken);
  if (token < t.length && SECRET_PREFIX.test(t.slice(token, token + 11))) return token;
  // A private key block: held from its BEGIN line until its END line.
  const begin = t.lastIndexOf("-----BEGIN");
  if (begin < 0) return t.length;
  const rest = t.slice(begin);
  if (/^-----BEGIN[A-Z ]{0,20}$/.test(rest)) return begin;
  return /^-----BEGIN[A-Z ]{0,20} PRIVATE KEY-----/.test(rest) && !/-----END[A-Z ]{0,20} PRIVATE KEY-----/.test(rest) ? begin : t.length;
}

function awsTail(t: string): number {
  const run = runStart(t, t.length, isAlnum);
  const s = t.slice(run, run + 4);
  return t.length - run <= 20 && (s === "AKIA" || s === "ASIA") ? run : t.length;
}

function jwtTail(t: string): number {
  const run = runStart(t, t.length, (c) => isToken(c) || c === 46);
  const at = t.indexOf("eyJ", run);
  return at >= 0 ? at : t.length;
}

const TAILS: Readonly<Record<DetectorName, (t: string) => number>> = {
  card: cardTail,
  ssn: (t) => patternTail(t, SSN_TAIL),
  phone: (t) => patternTail(t, PHONE_TAIL),
  iban: (t) => patternTail(t, IBAN_TAIL),
  email: emailTail,
  aws_key: awsTail,
  jwt: jwtTail,
  secret: secretTail,
};

/** The earliest offset of `t` where a match of one of `names` may have started and go on past its end; t.length for none. */
export function openMatchStart(t: string, names: readonly DetectorName[]): number {
  let start = t.length;
  for (const n of names) start = Math.min(start, TAILS[n](t));
  return start;
}

/** An escape the next event may finish (`%2`, `&#4`, `\\u00`): what it spells is not known yet. */
const PARTIAL_ESCAPE = /(?:%[0-9A-Fa-f]?|&#?[xX]?[0-9A-Fa-f]{0,6}|&[A-Za-z]{1,8}|\\(?:u\{?[0-9A-Fa-f]{0,5}|x[0-9A-Fa-f]?)?)$/;

/**
 * openMatchStart over the text as sent and as a reader decodes it (text-views.ts: fullwidth digits, invisible
 * characters, percent escapes, HTML references), an escape cut at the end held with what comes before it.
 */
export function openMatchStartInViews(t: string, names: readonly DetectorName[]): number {
  let open = openMatchStart(t, names);
  const esc = PARTIAL_ESCAPE.exec(t.length > SHORT_WINDOW ? t.slice(-SHORT_WINDOW) : t);
  if (esc) {
    const at = t.length - esc[0].length;
    open = Math.min(open, at, openMatchStart(t.slice(0, at), names));
  }
  for (const v of decodedViews(t).views) {
    const o = openMatchStart(v.text, names);
    if (o < v.text.length) open = Math.min(open, v.from[o]!);
  }
  return open;
}
