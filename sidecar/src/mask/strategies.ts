// Mask strategies (issue 5): redact, partial, hash, null. Shared by the Postgres and HTTP adapters.

import { createHmac, randomBytes } from "node:crypto";
import type { DetectorName, MaskStrategy } from "../decision/types.js";

/** The fixed token `redact` writes, whatever the value was. It reveals neither content nor length. */
export const REDACTED = "****";

/** When two rules hit one value the one revealing least wins (docs/policy.md: null > redact > hash > partial). */
const STRENGTH: Readonly<Record<MaskStrategy, number>> = { partial: 0, hash: 1, redact: 2, null: 3 };

export function strongerStrategy(a: MaskStrategy | undefined, b: MaskStrategy): MaskStrategy;
export function strongerStrategy(a: MaskStrategy | undefined, b: MaskStrategy | undefined): MaskStrategy | undefined;
export function strongerStrategy(a: MaskStrategy | undefined, b: MaskStrategy | undefined): MaskStrategy | undefined {
  return !a ? b : !b ? a : STRENGTH[b] > STRENGTH[a] ? b : a;
}

/** What the value is, when the caller knows (a detector found it); otherwise it is inferred. */
export interface MaskHint {
  kind: DetectorName | "text";
}

/**
 * `hash` without a configured key falls back to a key drawn once per process: values stay hidden and
 * joinable within this process, but hashes change across restarts. An unkeyed digest is never used: card
 * numbers and SSNs are few enough to brute-force a plain SHA-256.
 */
const PROCESS_KEY = randomBytes(32);

const HASH_PREFIX = "h:";
const HASH_HEX_CHARS = 16;

/** Keyed, stable pseudonym: `h:` + the first 16 hex chars of HMAC-SHA256(key, value). */
export function hashValue(value: string, key?: Buffer): string {
  return HASH_PREFIX + createHmac("sha256", key ?? PROCESS_KEY).update(value, "utf8").digest("hex").slice(0, HASH_HEX_CHARS);
}

/** Values with at least this many digits keep their last four under `partial`; shorter ones keep none. */
const MIN_DIGITS_TO_KEEP_LAST4 = 8;

const DIGITLIKE = /^[\d\s().+-]+$/;
const EMAILLIKE = /^[^@\s]+@[^@\s]+$/;
const IBANLIKE = /^[A-Z]{2}\d{2}[A-Z0-9 ]{11,40}$/;
const SPACES = / /g;

function inferKind(value: string): DetectorName | "text" {
  if (EMAILLIKE.test(value)) return "email";
  if (DIGITLIKE.test(value)) return "card"; // any digit string: masked like a card (keep last 4 when long enough)
  if (IBANLIKE.test(value)) return "iban";
  return "text";
}

/** Every digit but the last four becomes "*"; separators stay so the shape remains readable. */
function keepLastDigits(value: string): string {
  let digits = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  const keep = digits >= MIN_DIGITS_TO_KEEP_LAST4 ? 4 : 0;
  let seen = 0;
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      seen++;
      out += seen > digits - keep ? value[i] : "*";
    } else {
      out += value[i];
    }
  }
  return out;
}

/** Country code and last four characters of an IBAN. */
function keepIbanEnds(value: string): string {
  const compact = value.replace(SPACES, "");
  if (compact.length < 8) return REDACTED;
  return compact.slice(0, 2) + "*".repeat(compact.length - 6) + compact.slice(-4);
}

function keepDomain(value: string): string {
  const at = value.lastIndexOf("@");
  return at >= 0 && at < value.length - 1 ? "***" + value.slice(at) : REDACTED;
}

/** First and last character (code points, so surrogate pairs are never split), or the fixed token. */
function keepEnds(value: string): string {
  const first = value.codePointAt(0);
  const last = value.codePointAt(value.length - 1);
  if (first === undefined || last === undefined) return REDACTED;
  const firstChar = String.fromCodePoint(first);
  // A trailing low surrogate: take the whole pair.
  const lastChar = last >= 0xdc00 && last <= 0xdfff && value.length >= 2 ? value.slice(-2) : String.fromCodePoint(last);
  if (value.length - firstChar.length - lastChar.length < 3) return REDACTED;
  return firstChar + "***" + lastChar;
}

function partial(value: string, kind: DetectorName | "text"): string {
  switch (kind) {
    case "email":
      return keepDomain(value);
    case "card":
    case "phone":
    case "ssn":
      return keepLastDigits(value);
    case "iban":
      return keepIbanEnds(value);
    case "aws_key":
    case "jwt":
    case "secret":
      // Credentials: no part of them is shown.
      return REDACTED;
    case "text":
      return keepEnds(value);
  }
}

/**
 * Masks one whole value. `null` only for the `null` strategy.
 *   redact  -> "****"
 *   partial -> card/phone/ssn: digits but the last 4 starred (none kept under 8 digits);
 *              email: "***@domain"; iban: country + last 4; secrets: "****"; other text: first+"***"+last
 *   hash    -> "h:" + 16 hex chars of HMAC-SHA256(key)
 *   null    -> null
 */
export function applyStrategy(value: string, strategy: MaskStrategy, hint?: MaskHint, key?: Buffer): string | null {
  switch (strategy) {
    case "redact":
      return REDACTED;
    case "null":
      return null;
    case "hash":
      return hashValue(value, key);
    case "partial":
      return partial(value, hint?.kind ?? inferKind(value));
    default:
      // A strategy outside the contract: fail closed.
      return REDACTED;
  }
}

const STAR = 0x2a;
const isAsciiSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isUpper = (c: number): boolean => c >= 0x41 && c <= 0x5a;
const REDACTED_BYTES = Buffer.from(REDACTED);

/**
 * `partial` of an ASCII value read where it lies (a DataRow), byte for byte what `applyStrategy(value,
 * "partial")` gives, without decoding it to a string: emails keep their domain, digit strings their last
 * four digits, other text its first and last character. Undefined (use `applyStrategy`) for anything
 * else: non-ASCII bytes, or a value that may be an IBAN.
 */
export function partialAscii(raw: Uint8Array, start: number, length: number): Buffer | undefined {
  if (length === 0) return undefined;
  const end = start + length;
  let at = -1;
  let ats = 0;
  let space = false;
  let digitlike = true;
  let digits = 0;
  for (let i = start; i < end; i++) {
    const c = raw[i]!;
    if (c >= 0x80) return undefined;
    if (c === 0x40) {
      ats++;
      at = i;
    }
    if (isDigit(c)) digits++;
    else if (isAsciiSpace(c)) space = true;
    else if (c !== 0x28 && c !== 0x29 && c !== 0x2e && c !== 0x2b && c !== 0x2d) digitlike = false;
  }
  // Email (one "@", something on each side, no white space): "***" and the domain.
  if (ats === 1 && !space && at > start && at < end - 1) {
    const out = Buffer.allocUnsafe(3 + end - at);
    out[0] = out[1] = out[2] = STAR;
    for (let i = at, w = 3; i < end; i++, w++) out[w] = raw[i]!;
    return out;
  }
  // Digits with separators: every digit but the last four (when there are 8 or more) becomes "*".
  if (digitlike) {
    const keep = digits >= MIN_DIGITS_TO_KEEP_LAST4 ? 4 : 0;
    const out = Buffer.allocUnsafe(length);
    let seen = 0;
    for (let i = start, w = 0; i < end; i++, w++) {
      const c = raw[i]!;
      out[w] = isDigit(c) && ++seen <= digits - keep ? STAR : c;
    }
    return out;
  }
  // Possibly an IBAN: its own rule, on the string path.
  if (length >= 15 && isUpper(raw[start]!) && isUpper(raw[start + 1]!) && isDigit(raw[start + 2]!) && isDigit(raw[start + 3]!)) return undefined;
  // Other text: first and last character around "***", or the fixed token when that would show most of it.
  if (length - 2 < 3) return REDACTED_BYTES;
  const out = Buffer.allocUnsafe(5);
  out[0] = raw[start]!;
  out[1] = out[2] = out[3] = STAR;
  out[4] = raw[end - 1]!;
  return out;
}
