// What the policy's input says about a request body (`input.http.*`), read as every upstream may read it.
import { charsetReadsOtherwise, isJsonLines, startsLikeJson, textFacts, type TextFacts } from "./body-readings.js";
import { decodeContent, foldKey, isJsonMedia, isWideText, looksLikeJson, mediaType, oddMediaType } from "./body.js";
import { parsedQuery } from "./path.js";
import { queryTextProblem } from "./query-text.js";

/** What the input says about the request body (`input.http.*`). */
export interface BodyFacts {
  /** Bytes received, before any content-encoding is undone. */
  body_size: number;
  /** The body (decoded) is larger than the input cap: it is not in the input at all. */
  truncated_body: boolean;
  /** regate could not read the body as every upstream would (body-readings.ts; the schema's description). */
  body_parse_error: boolean;
  /** Media type, lowercased, without parameters. */
  content_type?: string;
  /** JSON value, or form fields (name -> values). */
  parsed_body?: unknown;
  /** The raw text, for bodies that are neither JSON nor a form (and valid UTF-8). */
  body?: string;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses the body for the input, never half-way: past the cap there is only `truncated_body`. A body that
 * claims to be JSON but does not parse (or is not UTF-8) sets `body_parse_error`, so a policy can fail
 * closed on it. Bodies that look like JSON are parsed whatever their content type: an upstream may well
 * accept them as JSON, so the policy must see them as such, and if JSON.parse refuses them a lenient reader
 * may not (body-readings.ts): they are unparsable, not text.
 */
export function parseRequestBody(raw: Buffer, contentType: string | undefined, contentEncoding: string | undefined, cap: number): BodyFacts {
  const type = mediaType(contentType);
  const facts: BodyFacts = { body_size: raw.length, truncated_body: false, body_parse_error: false };
  if (type !== undefined) facts.content_type = type;
  if (raw.length === 0) return facts;
  if (raw.length > cap) {
    facts.truncated_body = true;
    return facts;
  }
  const decoded = decodeContent(raw, contentEncoding, cap);
  if (decoded === "too_large") {
    facts.truncated_body = true;
    return facts;
  }
  if (decoded === "unsupported") {
    facts.body_parse_error = true;
    return facts;
  }
  // Text in UTF-16 or UTF-32 reads as NULs and ASCII (valid UTF-8) or not at all, so the policy would see
  // nothing, while an upstream that sniffs the encoding (Python's json.loads, Flask) reads fields from it.
  if (mayBeText(type) && isWideText(decoded)) {
    facts.body_parse_error = true;
    return facts;
  }
  // A type an upstream may fold into a form or JSON (Go lowercases "appl\u0130cation/json" to JSON).
  if (oddMediaType(contentType)) {
    facts.body_parse_error = true;
    return facts;
  }
  // A charset the upstream decodes with (Django, DRF) and that reads these bytes otherwise than UTF-8.
  if (mayBeText(type) && charsetReadsOtherwise(contentType, decoded, type === "application/x-www-form-urlencoded")) {
    facts.body_parse_error = true;
    return facts;
  }
  let text: string;
  try {
    text = UTF8.decode(decoded);
  } catch {
    // Binary: nothing for the policy to read, but a JSON or form claim, or what looks like JSON (Go's
    // decoder reads invalid UTF-8 as U+FFFD and goes on), that is not even UTF-8 is an error.
    if (isJsonMedia(type) || type === "application/x-www-form-urlencoded" || looksLikeJson(decoded.subarray(0, 64).toString("latin1"))) facts.body_parse_error = true;
    return facts;
  }
  if (type === "application/x-www-form-urlencoded") {
    // A form that is also a JSON document to readers that ignore the type (Starlette's request.json(),
    // Flask's get_json(force=True), Gson): two readings, one judged. A form field does not begin with "{" or "[".
    // Nor one with a ";", which Rack 1 (Rails 4), Python's cgi before 3.9.2 and Django before 3.2 split at as at
    // "&" ("a=1;_method=DELETE"), or escapes decoders read differently (query-text.ts): unparsable, so that a
    // `_method` in it is refused (method.ts unparsedBodyMayOverride) and a policy sees no half reading.
    if (startsLikeJson(text) || text.includes(";") || queryTextProblem(text) !== undefined) facts.body_parse_error = true;
    else facts.parsed_body = parsedQuery(text);
    return facts;
  }
  const json = isJsonMedia(type);
  // Text that lenient readers take for JSON whatever its type (Python's json, Gson, Json.NET, Ruby's JSON for
  // Rails' text/x-json): parsed, and if JSON.parse refuses it, unparsable rather than plain text.
  const startsJson = startsLikeJson(text);
  const jsonish = startsJson && (!isJsonLines(type) || oneDocument(text));
  if (startsJson && !jsonish && linesMayCall(text)) {
    facts.body_parse_error = true;
    return facts;
  }
  if (json || jsonish) {
    try {
      const parsed = JSON.parse(text) as unknown;
      // Go's encoding/json (mcp-go, most Go APIs) binds "Name", "NAME" and "name" to one field, the last
      // one winning; other readers keep the first of two equal keys: a body with two such keys means one
      // thing to the policy and another to the upstream.
      if (readsOtherwise(parsed, textFacts(text))) {
        facts.body_parse_error = true;
        return facts;
      }
      facts.parsed_body = parsed;
      return facts;
    } catch {
      facts.body_parse_error = true;
      return facts;
    }
  }
  facts.body = text;
  return facts;
}

/**
 * JSON lines (NDJSON, JSON Lines, json-seq) that are one JSON document: JSON to every reader that ignores the
 * type (Starlette's request.json(), Flask's get_json(force=True)) and to one that takes any element of a
 * listed type (the MCP Python SDK reads `application/jsonl,application/json` as JSON, where regate's cut
 * reads JSON lines), so it is judged as JSON: the policy sees the JSON-RPC call it carries.
 */
function oneDocument(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * JSON lines of which one reads as a JSON-RPC message (a member that folds to `method` or `jsonrpc`): Go's
 * json.Decoder, which many handlers read a body with, runs the first document and ignores what follows, so a
 * call in it would run unjudged. No JSON-RPC transport sends lines: unparsable.
 */
function linesMayCall(text: string): boolean {
  for (const line of text.split(/[\n\x1e]/)) {
    if (!startsLikeJson(line)) continue;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      // A document spread over lines: which of them a reader takes is not known, so any may call.
      return /"(?:method|jsonrpc)"/i.test(text) || text.includes("\\u");
    }
    for (const m of Array.isArray(doc) ? doc : [doc]) {
      if (typeof m === "object" && m !== null && Object.keys(m).some((k) => foldKey(k) === "method" || foldKey(k) === "jsonrpc")) return true;
    }
  }
  return false;
}

/**
 * A parsed body an upstream may read otherwise than the policy, in one walk: a number that is not what its
 * text said (past 2^53, 9007199254740993 parses as ...992; out of range, 1e400 parses as Infinity and
 * serialises as null; Go and Python read the exact value), or an object with two keys that are one under
 * foldKey, or (from the text) a key written twice or a decimal a double does not hold (body-readings.ts).
 */
function readsOtherwise(value: unknown, text: TextFacts): boolean {
  if (text.inexactNumber) return true;
  // Keys JSON.parse kept, against the member names in the text: fewer means a key written twice.
  let keysKept = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "number") {
      if (!Number.isFinite(v) || (Number.isInteger(v) && !Number.isSafeInteger(v))) return true;
      continue;
    }
    if (typeof v !== "object" || v === null) continue;
    if (Array.isArray(v)) {
      for (const el of v) stack.push(el);
      continue;
    }
    const keys = Object.keys(v);
    keysKept += keys.length;
    if (keys.length > 1) {
      const seen = new Set<string>();
      for (const k of keys) {
        const f = foldKey(k);
        if (seen.has(f)) return true;
        seen.add(f);
      }
    }
    for (const k of keys) stack.push((v as Record<string, unknown>)[k]);
  }
  return keysKept !== text.members;
}

/** Undeclared, or a declared text type: a body a parser may read as text (binary types are left alone). */
function mayBeText(type: string | undefined): boolean {
  return type === undefined || type.startsWith("text/") || isJsonMedia(type) || type === "application/x-www-form-urlencoded" || type.endsWith("xml");
}
