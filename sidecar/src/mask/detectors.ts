// Value detectors shared by the Postgres and HTTP adapters. Each one is a precompiled global regex that
// proposes candidates plus a validator (checksum, structure) that rejects look-alikes, so a 16-digit order
// id failing Luhn is not a card and a date is not a phone number.
//
// The regexes are module-level and reused: exec() loops run to completion synchronously, so sharing
// `lastIndex` is safe on the single JS thread. Lookbehinds pin candidates to the start of a run, which keeps
// every scan linear (a failed attempt inside a run is rejected by the lookbehind in O(1)).

import type { DetectorName } from "../decision/types.js";
import { ibanValid, luhnValid, ssnValid } from "./checksums.js";
import { IBAN_LENGTHS } from "./iban-lengths.js";

export interface DetectorMatch {
  detector: DetectorName;
  /** UTF-16 offsets into the scanned text, end exclusive. */
  start: number;
  end: number;
}

interface Detector {
  /** A cheap test that rules the detector out for most text without running the regex. */
  mayMatch(text: string): boolean;
  scan(text: string, out: DetectorMatch[]): void;
}

export const DETECTOR_NAMES: readonly DetectorName[] = Object.freeze([
  "email", "card", "ssn", "phone", "iban", "aws_key", "jwt", "secret",
]);

const HAS_DIGIT = /\d/;
const hasDigit = (t: string): boolean => HAS_DIGIT.test(t);

// --- email ---------------------------------------------------------------------------------------------
const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])/g;

const email: Detector = {
  mayMatch: (t) => t.includes("@"),
  scan(text, out) {
    EMAIL.lastIndex = 0;
    for (let m = EMAIL.exec(text); m; m = EMAIL.exec(text)) {
      out.push({ detector: "email", start: m.index, end: m.index + m[0].length });
    }
  },
};

// --- card ----------------------------------------------------------------------------------------------
// A maximal run of digits with single space/dash separators. The run is then split at separator
// boundaries so "ref 1234 4111 1111 1111 1111" still finds the card inside a longer run.
const DIGIT_RUN = /(?<!\d)\d(?:[ -]?\d){12,}(?!\d)/g;
const DIGIT_GROUP = /\d+/g;
const CARD_SEPARATORS = /[ -]/g;

/** Issuer prefixes start with 2-6 (Mastercard 2-series, Amex, Visa, Mastercard, Discover/UnionPay). */
function plausibleIssuer(digits: string): boolean {
  const c = digits.charCodeAt(0);
  return c >= 50 && c <= 54; // '2'..'6'
}

const card: Detector = {
  mayMatch: hasDigit,
  scan(text, out) {
    DIGIT_RUN.lastIndex = 0;
    for (let m = DIGIT_RUN.exec(text); m; m = DIGIT_RUN.exec(text)) {
      const run = m[0];
      const whole = run.replace(CARD_SEPARATORS, "");
      if (whole.length <= 19 && whole.length >= 13 && plausibleIssuer(whole) && luhnValid(whole)) {
        if (!inUuid(text, m.index, m.index + run.length)) out.push({ detector: "card", start: m.index, end: m.index + run.length });
        continue;
      }
      // Groups of the run: [start, end, digits] relative to the run.
      const groups: { s: number; e: number; d: string }[] = [];
      DIGIT_GROUP.lastIndex = 0;
      for (let g = DIGIT_GROUP.exec(run); g; g = DIGIT_GROUP.exec(run)) {
        groups.push({ s: g.index, e: g.index + g[0].length, d: g[0] });
      }
      if (groups.length < 2) continue;
      let i = 0;
      while (i < groups.length) {
        let found = -1;
        let digits = "";
        for (let j = i; j < groups.length; j++) {
          digits += groups[j]!.d;
          if (digits.length > 19) break;
          if (digits.length >= 13 && plausibleIssuer(digits) && luhnValid(digits)) found = j; // keep the longest
        }
        if (found >= 0) {
          if (!inUuid(text, m.index + groups[i]!.s, m.index + groups[found]!.e)) out.push({ detector: "card", start: m.index + groups[i]!.s, end: m.index + groups[found]!.e });
          i = found + 1;
        } else {
          i++;
        }
      }
    }
  },
};

const UUID_IN = /(?<![0-9a-f])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])/gi;
const isUuidChar = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 45;

/**
 * Whether [start, end) lies inside a UUID. About 1 random UUID in 700 holds 13 to 19 digits that pass Luhn
 * (`d055efc3-3d86-4322-9401-814896b0a5d3`): masked, an id the agent must send back (an MCP session, an
 * order) no longer names anything. Only the UUID's own shape counts: digits glued to hex letters otherwise
 * (`deadbeef4111111111111111`) are still read as a card, since an agent writing SQL can glue any prefix.
 */
function inUuid(text: string, start: number, end: number): boolean {
  let s = start;
  let e = end;
  while (s > 0 && isUuidChar(text.charCodeAt(s - 1))) s--;
  while (e < text.length && isUuidChar(text.charCodeAt(e))) e++;
  if (e - s < 36) return false;
  const token = text.slice(s, e);
  UUID_IN.lastIndex = 0;
  for (let u = UUID_IN.exec(token); u; u = UUID_IN.exec(token)) if (s + u.index <= start && end <= s + u.index + 36) return true;
  return false;
}

// --- ssn -----------------------------------------------------------------------------------------------
// Only the separated form: nine bare digits are far more often something else.
const SSN = /(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])/g;

const ssn: Detector = {
  mayMatch: hasDigit,
  scan(text, out) {
    SSN.lastIndex = 0;
    for (let m = SSN.exec(text); m; m = SSN.exec(text)) {
      if (ssnValid(m[1]!, m[3]!, m[4]!)) out.push({ detector: "ssn", start: m.index, end: m.index + m[0].length });
    }
  },
};

// --- phone ---------------------------------------------------------------------------------------------
// E.164 ("+" and 8-15 digits, optional single separators) or a US number whose parts are separated
// ("(415) 555-2671", "415-555-2671", "+1 415.555.2671"). Bare digit strings are never phones: they are
// order ids, timestamps and card numbers far more often.
const PHONE = new RegExp(
  String.raw`(?<![\w+])\+[1-9](?:[ .-]?\d){7,14}(?!\d)` +
    "|" +
    String.raw`(?<![\w+.-])(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\)[ .-]?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}(?![\d-])`,
  "g",
);

const phone: Detector = {
  mayMatch: hasDigit,
  scan(text, out) {
    PHONE.lastIndex = 0;
    for (let m = PHONE.exec(text); m; m = PHONE.exec(text)) {
      out.push({ detector: "phone", start: m.index, end: m.index + m[0].length });
    }
  },
};

// --- iban ----------------------------------------------------------------------------------------------
// Country code, check digits, then alphanumerics optionally grouped by single spaces. The candidate may run
// into following uppercase words; the country's registered length (or, for unknown countries, the longest
// prefix whose checksum holds) decides where the IBAN ends.
const IBAN_RUN = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,32}/g;

function ibanSpan(run: string): number {
  // Offsets in `run` of each non-space character, so a compact length maps back to the original text.
  const ends: number[] = [];
  let compact = "";
  for (let i = 0; i < run.length && compact.length < 34; i++) {
    if (run.charCodeAt(i) === 32) continue;
    compact += run[i];
    ends.push(i + 1);
  }
  const known = IBAN_LENGTHS[compact.slice(0, 2)];
  if (known !== undefined) {
    return compact.length >= known && ibanValid(compact.slice(0, known)) ? ends[known - 1]! : -1;
  }
  for (let len = compact.length; len >= 15; len--) {
    if (ibanValid(compact.slice(0, len))) return ends[len - 1]!;
  }
  return -1;
}

const iban: Detector = {
  mayMatch: hasDigit,
  scan(text, out) {
    IBAN_RUN.lastIndex = 0;
    for (let m = IBAN_RUN.exec(text); m; m = IBAN_RUN.exec(text)) {
      const len = ibanSpan(m[0]);
      if (len > 0) {
        out.push({ detector: "iban", start: m.index, end: m.index + len });
        IBAN_RUN.lastIndex = m.index + len;
      } else {
        // Another IBAN may start after a space inside this run.
        IBAN_RUN.lastIndex = m.index + 1;
      }
    }
  },
};

// --- aws_key -------------------------------------------------------------------------------------------
const AWS_KEY = /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g;

const awsKey: Detector = {
  mayMatch: (t) => t.includes("AKIA") || t.includes("ASIA"),
  scan(text, out) {
    AWS_KEY.lastIndex = 0;
    for (let m = AWS_KEY.exec(text); m; m = AWS_KEY.exec(text)) {
      out.push({ detector: "aws_key", start: m.index, end: m.index + m[0].length });
    }
  },
};

// --- jwt -----------------------------------------------------------------------------------------------
// "eyJ" is base64url for '{"'. The header must decode to a JSON object naming an "alg". Three parts (JWS;
// the signature is empty for alg "none") or five (JWE). A trailing sentence period is not part of it.
const JWT =
  /(?<![A-Za-z0-9_-])(eyJ[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?(?![A-Za-z0-9_-])/g;

function jwtHeaderValid(segment: string): boolean {
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return typeof header === "object" && header !== null && typeof (header as { alg?: unknown }).alg === "string";
  } catch {
    return false;
  }
}

const jwt: Detector = {
  mayMatch: (t) => t.includes("eyJ"),
  scan(text, out) {
    JWT.lastIndex = 0;
    for (let m = JWT.exec(text); m; m = JWT.exec(text)) {
      if (jwtHeaderValid(m[1]!)) out.push({ detector: "jwt", start: m.index, end: m.index + m[0].length });
    }
  },
};

// --- secret --------------------------------------------------------------------------------------------
// Vendor token formats with distinctive prefixes, plus PEM private key blocks.
const SECRET = new RegExp(
  String.raw`(?<![A-Za-z0-9_-])(?:` +
    [
      String.raw`(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}`, // Stripe secret / restricted keys
      String.raw`gh[pousr]_[A-Za-z0-9]{36,}`, // GitHub tokens
      String.raw`github_pat_[A-Za-z0-9_]{22,}`, // GitHub fine-grained PAT
      String.raw`xox[abposr]-[A-Za-z0-9-]{10,}`, // Slack
      String.raw`sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}`, // OpenAI / Anthropic
      String.raw`glpat-[A-Za-z0-9_-]{20,}`, // GitLab PAT
      String.raw`AIza[0-9A-Za-z_-]{35}`, // Google API key
      String.raw`npm_[A-Za-z0-9]{36}`, // npm token
    ].join("|") +
    String.raw`)(?![A-Za-z0-9_-])` +
    "|" +
    String.raw`-----BEGIN[A-Z ]{0,20} PRIVATE KEY-----[\s\S]*?-----END[A-Z ]{0,20} PRIVATE KEY-----`,
  "g",
);

const secret: Detector = {
  mayMatch: () => true,
  scan(text, out) {
    SECRET.lastIndex = 0;
    for (let m = SECRET.exec(text); m; m = SECRET.exec(text)) {
      out.push({ detector: "secret", start: m.index, end: m.index + m[0].length });
    }
  },
};

const DETECTORS: Readonly<Record<DetectorName, Detector>> = Object.freeze({
  email,
  card,
  ssn,
  phone,
  iban,
  aws_key: awsKey,
  jwt,
  secret,
});

export function isDetectorName(name: unknown): name is DetectorName {
  return typeof name === "string" && Object.prototype.hasOwnProperty.call(DETECTORS, name);
}

/**
 * Every detected span in `text`, sorted by start and never overlapping: overlapping spans from different
 * detectors are merged (and named after the longer one), because masking only one of them would leave
 * part of a sensitive value readable.
 */
export function findMatches(text: string, detectors: readonly DetectorName[]): DetectorMatch[] {
  const found: DetectorMatch[] = [];
  for (const name of detectors) {
    const d = DETECTORS[name];
    if (d && d.mayMatch(text)) d.scan(text, found);
  }
  if (found.length < 2) return found;
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: DetectorMatch[] = [found[0]!];
  for (let i = 1; i < found.length; i++) {
    const m = found[i]!;
    const last = merged[merged.length - 1]!;
    if (m.start < last.end) {
      if (m.end > last.end) {
        const keep = m.end - m.start > last.end - last.start ? m.detector : last.detector;
        merged[merged.length - 1] = { detector: keep, start: last.start, end: m.end };
      }
      continue;
    }
    merged.push(m);
  }
  return merged;
}
