// Request bodies an upstream may read otherwise than regate's JSON.parse and UTF-8 do. Each check answers
// "could the upstream execute another request than the one the policy judged?"; request-body-facts.ts then sets
// `body_parse_error` instead of handing the policy one reading of several.

/** What a scan of a JSON text that JSON.parse accepted tells about readings other than JSON.parse's. */
export interface TextFacts {
  /**
   * Member names: every string followed by ":" (in valid JSON only a member name is). Compared with the keys
   * JSON.parse kept, it tells a key written twice (`"name"` and `"name"`, or `"n\u0061me"`), which JSON.parse
   * collapses to the last while gjson, buger/jsonparser, simdjson and jiffy read the first, and Gson (into a
   * Map) and serde (into a struct) refuse.
   */
  members: number;
  /**
   * A number whose decimal text is not the double JSON.parse makes of it (`1000.00000000000001` reads as 1000):
   * readers that keep decimals exact (Python's Decimal, Go's json.Number, Jackson's BigDecimal, Ruby's
   * BigDecimal) compare another value than the policy did.
   */
  inexactNumber: boolean;
}

export function textFacts(text: string): TextFacts {
  let members = 0;
  let inexactNumber = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < text.length && numberChar(text.charCodeAt(j))) j++;
      // Up to 15 significant digits every decimal survives a double: only longer numbers, and exponents
      // (1e-400 reads as 0), are checked.
      if (!inexactNumber && (j - i > 16 || exponent(text, i, j))) {
        const tok = text.slice(i, j);
        inexactNumber = decimalKey(tok) !== decimalKey(String(Number(tok)));
      }
      i = j - 1;
      continue;
    }
    if (c !== 0x22) continue;
    // To the string's closing quote, past escapes.
    for (i++; i < text.length; i++) {
      const d = text.charCodeAt(i);
      if (d === 0x5c) i++;
      else if (d === 0x22) break;
    }
    let j = i + 1;
    while (j < text.length) {
      const d = text.charCodeAt(j);
      if (d !== 0x20 && d !== 0x09 && d !== 0x0a && d !== 0x0d) break;
      j++;
    }
    if (text.charCodeAt(j) === 0x3a) members++;
  }
  return { members, inexactNumber };
}

/** A character of a JSON number: digits, ".", "e", "E", "+", "-". */
function numberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

function exponent(text: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if ((text.charCodeAt(k) | 0x20) === 0x65) return true;
  return false;
}

/** A decimal's value as significant digits and exponent ("1.50e2" and "150" are "15e3"), zero as "0". */
function decimalKey(tok: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(tok);
  if (!m) return tok;
  let digits = m[2]! + (m[3] ?? "");
  let exp = Number(m[4] ?? 0) + m[2]!.length;
  const lead = /^0*/.exec(digits)![0].length;
  digits = digits.slice(lead).replace(/0+$/, "");
  exp -= lead;
  return digits === "" ? "0" : `${m[1]}${digits}e${exp}`;
}

/**
 * Text that a lenient JSON reader takes for a document: after whitespace (any Unicode space, byte order marks),
 * comments (`/* *\/`, `//`, `#`: Gson, Json.NET, Ruby's JSON) and Gson's anti-XSSI prefix `)]}'`, an object or
 * an array begins. Python's json (Starlette's request.json(), FastAPI without a type, Flask's
 * get_json(force=True)) reads NaN and Infinity; Gson and Json.NET single quotes and trailing commas. Such text
 * that JSON.parse refuses is one the policy cannot judge.
 */
export function startsLikeJson(text: string): boolean {
  let i = 0;
  if (text.startsWith(")]}'")) i = 4;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "{" || c === "[") return true;
    if (/\s|\ufeff/u.test(c)) {
      i++;
      continue;
    }
    if (c === "#" || text.startsWith("//", i)) {
      const nl = text.indexOf("\n", i);
      if (nl < 0) return false;
      i = nl + 1;
      continue;
    }
    if (text.startsWith("/*", i)) {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) return false;
      i = end + 2;
      continue;
    }
    return false;
  }
  return false;
}

/** Types whose bodies are several JSON documents, one a line: read as text, never as one document. */
export function isJsonLines(type: string | undefined): boolean {
  return type !== undefined && /(?:ndjson|jsonl|jsonlines|json-seq)$/.test(type);
}

/** Charsets that read every byte as UTF-8 does. */
const UTF8_ALIKE = /^(?:utf-?8|us-?ascii|ascii|ansi_x3\.4-1968)$/;
/** Single-byte charsets without shift states: ASCII bytes are ASCII in them, other bytes are other characters. */
const SINGLE_BYTE = /^(?:iso[-_]?8859-\d{1,2}|latin-?\d{1,2}|l\d|windows-125\d|cp-?125\d|koi8-[ru])$/;
/** Every charset parameter, quoted or not, also in RFC 2231 form (`charset*=`, which Django decodes). */
const CHARSET_PARAM = /charset\*?\s*=\s*("?)([^";,\s]*)\1/gi;

/**
 * A declared charset in which ASCII text need not be spelled in ASCII bytes (EBCDIC, UTF-7, UTF-16 without
 * NULs to show it, or any name regate does not know): the first one, else undefined. A body regate did not read
 * into fields is searched for `_method` byte for byte (method.ts), which such a charset defeats: Tomcat decodes
 * a form's names and a multipart part's headers in the request's charset (`charset=IBM037` spells `_method` as
 * 6D 94 85 A3 88 96 84), and Spring's HiddenHttpMethodFilter then runs the DELETE it names.
 */
export function charsetHidesAscii(contentType: string | string[] | undefined): string | undefined {
  if (typeof contentType !== "string" || !/charset/i.test(contentType)) return undefined;
  for (const m of contentType.matchAll(CHARSET_PARAM)) {
    const cs = m[2]!.toLowerCase();
    if (!UTF8_ALIKE.test(cs) && !SINGLE_BYTE.test(cs)) return cs;
  }
  return undefined;
}

/**
 * A declared charset with which the upstream may read other characters than regate's UTF-8 does. Django sets
 * `request.encoding` from it and decodes forms with it; Django REST framework's JSONParser decodes JSON with it:
 * in UTF-7 `+ACI-` is a quote, in HZ `~{` swallows the bytes after it, Shift_JIS and Big5 swallow a `\`, Python
 * even has `unicode_escape`. Only UTF-8 and ASCII are read alike in every case; a single-byte charset
 * (ISO-8859-*, windows-125*) alike only while the body (and, in a form, its percent escapes) is ASCII.
 */
export function charsetReadsOtherwise(contentType: string | undefined, body: Buffer, form: boolean): boolean {
  if (contentType === undefined || !/charset/i.test(contentType)) return false;
  let ascii: boolean | undefined;
  for (const m of contentType.matchAll(CHARSET_PARAM)) {
    const cs = m[2]!.toLowerCase();
    if (UTF8_ALIKE.test(cs)) continue;
    if (!SINGLE_BYTE.test(cs)) return true;
    ascii ??= body.every((b) => b < 0x80) && !(form && /%[89a-f][0-9a-f]/i.test(body.toString("latin1")));
    if (!ascii) return true;
  }
  return false;
}
