// Masks newline-delimited JSON (NDJSON, JSON Lines) and JSON text sequences (RFC 7464) as they stream: each
// line is one document, masked as a whole JSON body is. Streaming APIs (Ollama, log and watch endpoints)
// answer this way; read as one document it does not parse, so field rules could only refuse it.

import { Transform, type TransformCallback } from "node:stream";
import { RegateError } from "../errors.js";
import { isWideText } from "./body.js";
import { WIDE_TEXT } from "./charset.js";
import type { ResponseMasker } from "./masker.js";
import { StreamJoins, streamJoinsFor } from "./stream-joins.js";

/** A line cut from the body, waiting for its document to be masked (at once, unless joins hold it). */
interface CutLine {
  /** RFC 7464's separator it opened with, the CR before its LF, its LF ("" for a last line without one). */
  rs: string;
  cr: string;
  end: string;
  text: string;
}

/**
 * Joins read a line's delta strings when it is a JSON object or array; a line of text, or a bare JSON string
 * or number, is a record of its own (a log line), not a piece of one.
 */
function isJson(text: string): boolean {
  if (!/^\s*[[{]/.test(text)) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const JSON_LINES_TYPES: ReadonlySet<string> = new Set([
  "application/x-ndjson",
  "application/ndjson",
  "application/jsonl",
  "application/x-jsonl",
  "application/jsonlines",
  "application/x-jsonlines",
  "application/json-seq",
  "application/x-json-stream",
  // Spring WebFlux's name for the same (deprecated there for application/x-ndjson, still sent).
  "application/stream+json",
]);

/** Kubernetes' watch streams: JSON events one per line, typed `application/json;stream=watch`. */
const WATCH = /;\s*stream\s*=\s*"?watch"?\s*(?:;|$)/i;

/** The response is newline-delimited JSON, by its media type (`type`, as body.ts mediaType cut it) or its parameters. */
export function isJsonLines(type: string | undefined, contentType: string | undefined): boolean {
  if (type === undefined) return false;
  return JSON_LINES_TYPES.has(type) || (type === "application/json" && contentType !== undefined && WATCH.test(contentType));
}

const LF = 0x0a;
/** RFC 7464's record separator, which opens each document of a JSON text sequence. */
const RS = "\x1e";

/**
 * Each line masked with the same rules as an SSE event's data (masker.maskEventData): a JSON document is
 * masked by field and detector; under field rules any other non-blank line fails the stream (RegateError),
 * since a field cannot be found in it. Output is held until `holdChars` (or the end), so that a short body
 * that fails is refused before a byte is sent, and one that fits is sent with its length (`wholeBody`).
 */
export class JsonLinesMasker extends Transform {
  readonly #masker: ResponseMasker;
  readonly #maxLineChars: number;
  readonly #holdChars: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  #pending = "";
  #first = true;
  #held: string[] = [];
  #heldChars = 0;
  #pushed = false;
  /** The first push is the whole body: its length can be declared. */
  wholeBody = false;
  /** Detectors over the text consecutive lines' deltas make (stream-joins.ts); undefined without detector rules. */
  readonly #joins: StreamJoins<CutLine> | undefined;
  #failed = false;

  constructor(masker: ResponseMasker, opts: { holdChars: number; maxLineChars: number; maxHeldChars?: number; maxHoldMs?: number }) {
    super();
    this.#masker = masker;
    this.#holdChars = opts.holdChars;
    this.#maxLineChars = opts.maxLineChars;
    const joins = streamJoinsFor(masker);
    if (joins) this.#joins = new StreamJoins<CutLine>(joins, () => this.#expire(), opts);
  }

  /** Held lines waited their bound: out, what may be a value under way masked. */
  #expire(): void {
    if (this.#failed || !this.#joins) return;
    try {
      for (const r of this.#joins.expire()) this.#masked(r.item, r.data);
      this.#emit(false);
    } catch (err) {
      this.#failed = true;
      this.destroy(failure(err));
    }
  }

  override _destroy(err: Error | null, done: (error: Error | null) => void): void {
    this.#joins?.stop();
    done(err);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.#failed) return done();
    try {
      // UTF-16 lines read as NULs between ASCII, which detectors would skip over and an agent would not.
      if (this.#first && isWideText(chunk)) throw new RegateError("MASK_LINEAGE_UNKNOWN", `the response is ${WIDE_TEXT}, which regate cannot mask`);
      this.#first = false;
      // Lines are cut at LF bytes: one never falls inside a UTF-8 sequence.
      let from = 0;
      for (let nl = chunk.indexOf(LF); nl >= 0; nl = chunk.indexOf(LF, from)) {
        this.#line(this.#pending + this.#decoder.decode(chunk.subarray(from, nl), { stream: true }) + this.#decoder.decode(), "\n");
        this.#pending = "";
        from = nl + 1;
      }
      this.#pending += this.#decoder.decode(chunk.subarray(from), { stream: true });
      if (this.#pending.length > this.#maxLineChars) throw new RegateError("MASK_LINEAGE_UNKNOWN", "a line of the response is longer than regate masks");
      this.#emit(false);
      done();
    } catch (err) {
      done(failure(err));
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      const last = this.#pending + this.#decoder.decode();
      if (last !== "") this.#line(last, "");
      if (this.#joins) for (const r of this.#joins.end()) this.#masked(r.item, r.data);
      this.#emit(true);
      done();
    } catch (err) {
      done(failure(err));
    }
  }

  #line(line: string, end: string): void {
    const cr = line.endsWith("\r") ? "\r" : "";
    let text = cr ? line.slice(0, -1) : line;
    const rs = text.startsWith(RS) ? RS : "";
    if (rs) text = text.slice(1);
    const cut: CutLine = { rs, cr, end, text };
    if (!this.#joins) return this.#masked(cut, text);
    for (const r of this.#joins.add(cut, text, isJson(text) ? "json" : "none")) this.#masked(r.item, r.data);
  }

  /** A line's document (`text`: as joins left it) masked and queued to go out. */
  #masked(line: CutLine, text: string): void {
    const masked = text.trim() === "" ? text : this.#masker.maskEventData(text);
    const out = line.rs + masked + line.cr + line.end;
    this.#held.push(out);
    this.#heldChars += out.length;
  }

  #emit(final: boolean): void {
    if (this.#held.length === 0 || (!final && this.#heldChars < this.#holdChars)) return;
    if (final && !this.#pushed) this.wholeBody = true;
    this.#pushed = true;
    this.push(Buffer.from(this.#held.join(""), "utf8"));
    this.#held = [];
    this.#heldChars = 0;
  }
}

/** TextDecoder's fatal error is a TypeError: not UTF-8, so not JSON either. */
function failure(err: unknown): Error {
  if (err instanceof TypeError) return new SyntaxError("JSON lines response body: not UTF-8");
  return err as Error;
}
