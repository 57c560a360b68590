import type { Decision } from "../decision/index.js";
import { applyStrategy, DETECTOR_NAMES, findMatches, maskText } from "../mask/index.js";
import { visible } from "./visible.js";

/** What a reviewer (and the agent, through its own view) is shown in place of a value that is masked. */
export const WITHHELD = "[withheld: the statement reads or writes masked columns]";

/** Past this many characters a reviewer is told to read the statement to its end. */
const LONG_TEXT = 2000;

/**
 * An HTTP request's body as the adapter hands it to reviewers (http/hold.ts): `text` is its start as UTF-8, each
 * byte that is not UTF-8 kept as a lone surrogate U+DC80-U+DCFF; `bytes` is its whole size as the upstream gets
 * it (inflated, when it came compressed); `compressed` says how it came.
 */
export interface HttpBodyShown {
  kind: "http_body";
  text: string;
  bytes: number;
  truncated: boolean;
  compressed?: { encoding: string; bytes: number };
}

const isHttpBody = (p: unknown): p is HttpBodyShown => typeof p === "object" && p !== null && (p as { kind?: unknown }).kind === "http_body";

/**
 * The statement as reviewers see it. The digest they approve covers the real text and values; what they
 * read is masked like anything else regate shows: when the decision masks columns, no parameter value is
 * shown (which parameter feeds which column is not known); otherwise, and in the statement's text, values
 * that look like personal data or secrets (cards, emails, SSNs, IBANs, keys) are masked. Then everything an
 * agent wrote goes through `visible` (invisible and control characters marked, long blank runs counted),
 * and `notes` says in plain words what was marked and what is not shown in full, so a reviewer never
 * approves more than they were shown without being told.
 */
export function reviewView(decision: Decision, sql: string, parameters: readonly unknown[] | undefined): { sql: string; parameters?: unknown[]; notes?: string[] } {
  const notes: string[] = [];
  const text = visible(maskCode(sql, "Statement", notes));
  notes.push(...text.notes.map((n) => `Statement: ${n}`));
  // Code can follow a long comment or literal, past where a reviewer stops reading.
  const lines = text.text.split("\n").length;
  if (text.text.length > LONG_TEXT) notes.push(`Statement: ${text.text.length} characters on ${lines} line${lines > 1 ? "s" : ""}: read it to its end before approving.`);
  const withhold = decision.mask.some((r) => r.column !== undefined);
  const shown = parameters?.map((p, i) => shownParameter(p, i, withhold, notes));
  return { sql: text.text, ...(shown ? { parameters: shown } : {}), ...(notes.length ? { notes } : {}) };
}

function shownParameter(p: unknown, i: number, withhold: boolean, notes: string[]): unknown {
  if (isHttpBody(p)) return shownBody(p, withhold, notes);
  if (typeof p === "string") return shownText(p, "Body", withhold, notes);
  if (!p || typeof p !== "object" || !("value" in p)) return p;
  const v = (p as { value: unknown }).value;
  if (v === null || v === undefined) return p;
  const which = `Parameter $${i + 1}`;
  if (withhold || typeof v !== "string") return { ...(p as object), value: WITHHELD };
  const shown = visible(maskText(v, DETECTOR_NAMES, "partial") ?? WITHHELD);
  for (const n of shown.notes) notes.push(`${which}: ${n}`);
  const cut = (p as { truncated?: unknown }).truncated === true;
  if (cut) notes.push(`${which} is cut: only its first ${v.length} characters are shown; approving approves the whole value.`);
  if ((p as { encoding?: unknown }).encoding === "base64") notes.push(`${which} is binary, shown as base64 of its bytes.`);
  return { ...(p as object), value: cut ? `${shown.text}⟨cut: the value goes on⟩` : shown.text };
}

/** A string shown whole: masked as code is, marked by `visible`. */
function shownText(text: string, what: string, withhold: boolean, notes: string[]): string {
  if (withhold) return WITHHELD;
  // A body can carry code as well (an MCP tool's SQL, a GraphQL query): masked as a statement's text is.
  const shown = visible(maskCode(text, what, notes));
  for (const n of shown.notes) notes.push(`${what}: ${n}`);
  return shown.text;
}

/** Bytes that are not UTF-8, as http/hold.ts keeps them, once `visible` has marked them. */
const RAW_BYTE = /⟨U\+DC([89A-F][0-9A-F])⟩/g;

/** An HTTP body: how it came (compressed or not), its bytes that are not text, and where it is cut, said plainly. */
function shownBody(body: HttpBodyShown, withhold: boolean, notes: string[]): string {
  const z = body.compressed;
  if (z) notes.push(`Body came compressed (${z.encoding}, ${z.bytes} bytes) and is shown inflated, as regate forwards it (${body.bytes} bytes).`);
  if (withhold) return WITHHELD;
  const raw = body.text.match(/[\udc80-\udcff]/g)?.length ?? 0;
  const masked = maskCode(body.text, "Body", notes);
  // visible's notes are taken without the kept bytes: it would name them as characters (U+DCxx), which they are not.
  const shown = visible(masked);
  const text = shown.text.replace(RAW_BYTE, "⟨byte 0x$1⟩");
  for (const n of (raw ? visible(masked.replace(/[\udc80-\udcff]/g, "")) : shown).notes) notes.push(`Body: ${n}`);
  if (raw) notes.push(`Body: ${raw} byte${raw > 1 ? "s are" : " is"} not UTF-8 text, shown as ⟨byte 0xNN⟩ marks; the upstream gets the bytes themselves.`);
  if (!body.truncated) return text;
  notes.push(`Body is cut: it is ${body.bytes} bytes and only its start is shown; approving approves all of it.`);
  return `${text}⟨cut: the body is ${body.bytes} bytes⟩`;
}

/**
 * Text that runs (a statement, a request) with its personal data and secrets masked, but only where the
 * span masked has the shape of such a value: the private-key detector spans anything between its BEGIN and
 * END lines, and an IBAN candidate runs into uppercase words, so `-- -----BEGIN PRIVATE KEY-----` + line
 * break + `OR true -----END PRIVATE KEY-----` would show the reviewer a few stars where PostgreSQL reads
 * `OR true`. A span that could be code is shown as it is, and `notes` says what was masked or not.
 */
function maskCode(text: string, what: string, notes: string[]): string {
  let out = "";
  let pos = 0;
  const masked: string[] = [];
  let kept = 0;
  for (const m of findMatches(text, DETECTOR_NAMES)) {
    const span = text.slice(m.start, m.end);
    out += text.slice(pos, m.start);
    pos = m.end;
    if (!valueShaped(span)) {
      out += span;
      kept++;
      continue;
    }
    out += applyStrategy(span, "partial", { kind: m.detector }) ?? "";
    masked.push(m.detector);
  }
  if (masked.length) notes.push(`${what}: ${masked.length} value${masked.length > 1 ? "s are" : " is"} masked (${[...new Set(masked)].join(", ")}): you see part of ${masked.length > 1 ? "them" : "it"}; approving approves the real value${masked.length > 1 ? "s" : ""}.`);
  if (kept) notes.push(`${what}: ${kept} part${kept > 1 ? "s" : ""} that a detector took for personal data or a secret ${kept > 1 ? "are" : "is"} shown unmasked: ${kept > 1 ? "they are" : "it is"} not shaped like such a value and could hide code.`);
  return out + text.slice(pos);
}

const PEM = /^(-----BEGIN[A-Z ]{0,20} PRIVATE KEY-----)([\s\S]*?)(-----END[A-Z ]{0,20} PRIVATE KEY-----)$/;
/** A line of a key block: base64, or an RFC 1421 header such as `Proc-Type: 4,ENCRYPTED`. */
const PEM_LINE = /^(?:[A-Za-z0-9+/=]*|[A-Za-z-]+: [A-Za-z0-9,-]+)$/;
/** Grouped by four, as IBANs are printed, or not grouped at all. */
const IBAN_SHAPE = /^[A-Z]{2}\d{2}(?:[A-Z0-9]*|(?: [A-Z0-9]{4})*(?: [A-Z0-9]{1,3})?)$/;
/** What ends or starts a literal, identifier or comment in SQL: no value of a detected kind holds one. */
const SQL_BOUNDARY = /['"$;`]|--|\/\*|\*\//;

function valueShaped(span: string): boolean {
  const pem = PEM.exec(span);
  if (pem) {
    // Line breaks as sent, or as a JSON string writes them.
    const lines = pem[2]!.split(/\r?\n|\\(?:r\\)?n/);
    return lines.length >= 3 && lines[0] === "" && lines[lines.length - 1] === "" && lines.every((l) => PEM_LINE.test(l));
  }
  if (SQL_BOUNDARY.test(span)) return false;
  if (/^[A-Z]{2}\d{2}/.test(span) && / /.test(span)) return IBAN_SHAPE.test(span);
  return true;
}
