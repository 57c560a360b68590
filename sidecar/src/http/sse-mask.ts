import { StringDecoder } from "node:string_decoder";
import { Transform, type TransformCallback } from "node:stream";
import { RegateError } from "../errors.js";
import { catalogError } from "./reply.js";
import { hasOtherBreak, maskAcrossBreaks, maskUnreadLine, unreadLine } from "./sse-unread-line.js";
import { joinKind, type CutEvent } from "./sse-event.js";
import { StreamJoins, type JoinDetect } from "./stream-joins.js";

const ENDPOINT_EVENT = /^event: ?endpoint$/;

/**
 * What an agent reads when regate refuses the rest of a stream: an `error` event in the shape of regate's
 * HTTP refusals, before the connection is cut.
 */
function refusalEvent(err: RegateError): string {
  const { body } = catalogError("MASK_LINEAGE_UNKNOWN", "mask_failed", `${err.message}; the rest of the stream was refused`);
  return `event: error\ndata: ${JSON.stringify(body)}\n\n`;
}

/**
 * Masks a text/event-stream as it streams: events are cut at blank lines, the `data` lines of each event
 * are joined (as the SSE spec does), masked as one value and written back as `data:` lines. Every other
 * line (event, id, retry, comments; whole, for lines no SSE client reads) is masked as data too, in place
 * and in order. Each event is written as soon as its blank line arrives, so MCP tool results and progress
 * messages are not held back; under detectors, a model's delta that may end inside a value waits for the
 * next (stream-joins.ts), as briefly as the value takes to show or a bound allows. An event that cannot be masked is never written: the agent gets an `error`
 * event instead and the stream is cut (it is under way, so no status can say so any more).
 */
export class SseMasker extends Transform {
  readonly #mask: (data: string) => string;
  readonly #maxEventChars: number;
  readonly #decoder = new StringDecoder("utf8");
  /**
   * The unterminated line so far, in the pieces it came in: already searched for line breaks, so a long line
   * costs one pass and one join, not a rescan and a copy per chunk.
   */
  #pending: string[] = [];
  #pendingChars = 0;
  /** The last chunk ended in a CR: its line is done, and an LF opening the next chunk is the rest of a CRLF. */
  #skipLf = false;
  /** That CR ended a blank line (the event went out with it), not a line still in #lines. */
  #crEndedEvent = false;
  /** What this chunk's events produced: pushed once per chunk, so the stages after see a chunk per read, not per event. */
  #out: string[] = [];
  /** Characters examined for line breaks (tests check that each is examined once). */
  scanned = 0;
  #lines: string[] = [];
  /** The line break each of #lines came with ("" for a last line the stream ended without one). */
  #breaks: string[] = [];
  #eventChars = 0;
  #failed = false;
  /** Detectors over the text consecutive events make (stream-joins.ts); undefined without detector rules. */
  readonly #joins: StreamJoins<CutEvent> | undefined;

  /**
   * `mask` masks one event's data (it may throw RegateError to refuse it). Values of the other lines are
   * handed to it as JSON strings, see #maskLine. With `joins`, a value cut across events' deltas is masked
   * too, and an event that may end inside one is held until the next tells (stream-joins.ts).
   */
  constructor(mask: (data: string) => string, maxEventBytes: number, joins?: JoinDetect, holdBounds?: { maxHeldChars?: number; maxHoldMs?: number }) {
    super();
    this.#mask = mask;
    this.#maxEventChars = maxEventBytes;
    if (joins) this.#joins = new StreamJoins<CutEvent>(joins, () => this.#expire(), holdBounds);
  }

  /** Held events waited their bound: out, what may be a value under way masked. */
  #expire(): void {
    if (this.#failed || !this.#joins) return;
    try {
      for (const r of this.#joins.expire()) this.#render(r.item, r.data);
      this.#flushOut();
    } catch (err) {
      this.#fail(err, (e) => {
        if (e) this.destroy(e);
      });
    }
  }

  override _destroy(err: Error | null, done: (error: Error | null) => void): void {
    this.#joins?.stop();
    done(err);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.#failed) return done();
    try {
      this.#consume(this.#decoder.write(chunk), false);
      this.#flushOut();
      done();
    } catch (err) {
      this.#fail(err, done);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.#failed) return done();
    try {
      this.#consume(this.#decoder.end(), true);
      if (this.#lines.length > 0) this.#emitEvent("");
      if (this.#joins) for (const r of this.#joins.end()) this.#render(r.item, r.data);
      this.#flushOut();
      done();
    } catch (err) {
      this.#fail(err, done);
    }
  }

  /**
   * Refuses the rest of the stream. The error event is pushed first and the failure reported a turn later,
   * so the event reaches the socket before the pipeline destroys it; the cut then tells any HTTP client
   * the stream did not end normally (an SSE client would otherwise take a clean end for "reconnect").
   */
  #fail(err: unknown, done: TransformCallback): void {
    this.#failed = true;
    this.#joins?.stop();
    if (!(err instanceof RegateError)) return done(err as Error);
    // Events completed before the refused one were masked: they go out, then the refusal.
    this.#flushOut();
    this.push(refusalEvent(err));
    setImmediate(() => done(err));
  }

  #flushOut(): void {
    if (this.#out.length === 0) return;
    const out = this.#out.join("");
    this.#out = [];
    this.push(out);
  }

  #consume(text: string, final: boolean): void {
    let start = 0;
    if (this.#skipLf && text.length > 0) {
      this.#skipLf = false;
      if (text.charCodeAt(0) === 10) {
        // The rest of a CRLF: it goes back where it was, after the CR already read.
        start = 1;
        if (this.#crEndedEvent) this.#out.push("\n");
        else this.#breaks[this.#breaks.length - 1] += "\n";
      }
    }
    if (final) this.#skipLf = false;
    // Only `text` is searched: the pending pieces were searched when they came and hold no line break.
    for (;;) {
      let i = start;
      while (i < text.length && text.charCodeAt(i) !== 10 && text.charCodeAt(i) !== 13) i++;
      this.scanned += i - start;
      if (i >= text.length) break;
      this.scanned++;
      let line = text.slice(start, i);
      if (this.#pending.length > 0) {
        this.#pending.push(line);
        line = this.#pending.join("");
        this.#pending = [];
        this.#pendingChars = 0;
      }
      let br = "\n";
      if (text.charCodeAt(i) === 13) {
        // A CR may be the first half of a CRLF whose LF is in the next chunk: the line is done either way.
        br = i + 1 < text.length && text.charCodeAt(i + 1) === 10 ? "\r\n" : "\r";
        start = i + br.length;
        if (i + 1 >= text.length && !final) {
          this.#skipLf = true;
          this.#crEndedEvent = line === "";
        }
      } else start = i + 1;
      if (line === "") this.#emitEvent(br);
      else this.#addLine(line, br);
    }
    if (start < text.length) {
      this.#pending.push(text.slice(start));
      this.#pendingChars += text.length - start;
    }
    if (final && this.#pendingChars > 0) {
      const line = this.#pending.join("");
      this.#pending = [];
      this.#pendingChars = 0;
      this.#addLine(line, "");
    }
    if (this.#pendingChars > this.#maxEventChars) throw new RegateError("MASK_LINEAGE_UNKNOWN", "server-sent event too large to mask");
  }

  #addLine(line: string, br: string): void {
    this.#eventChars += line.length;
    if (this.#eventChars > this.#maxEventChars) throw new RegateError("MASK_LINEAGE_UNKNOWN", "server-sent event too large to mask");
    this.#lines.push(line);
    this.#breaks.push(br);
  }

  /**
   * The event so far, masked, out with its lines' own breaks and `end`, the blank line's ("" when the stream
   * ended without one). Lines no mask changed go out as they came (CRLF, CR, `data:` without a space): an
   * agent gets the bytes the upstream sent. Changed data is written back as `data: ` lines where the first
   * data line was, with the first data line's break between them and the last one's after.
   */
  #emitEvent(end: string): void {
    const lines = this.#lines;
    const breaks = this.#breaks;
    this.#lines = [];
    this.#breaks = [];
    this.#eventChars = 0;
    let data: string[] | undefined;
    const dataLines: number[] = [];
    for (let k = 0; k < lines.length; k++) {
      const line = lines[k]!;
      if (line === "data" || line.startsWith("data:")) {
        let v = line.slice(5);
        if (v.startsWith(" ")) v = v.slice(1);
        (data ??= []).push(v);
        dataLines.push(k);
      }
    }
    // MCP's HTTP+SSE transport opens with an `endpoint` event whose data is the URL to post to: text,
    // not a document, masked as the other lines are rather than refused under field rules.
    const ev: CutEvent = { lines, breaks, end, dataLines, data: data?.join("\n"), endpoint: data !== undefined && lines.some((l) => ENDPOINT_EVENT.test(l)) };
    if (!this.#joins) return this.#render(ev, ev.data);
    for (const r of this.#joins.add(ev, ev.data ?? "", joinKind(ev))) this.#render(r.item, r.data);
  }

  /** An event masked (`data`: its data as joins left it) and queued to go out. */
  #render(ev: CutEvent, data: string | undefined): void {
    const { lines, breaks, dataLines } = ev;
    const out: (string | undefined)[] = [];
    for (let k = 0; k < lines.length; k++) {
      const line = lines[k]!;
      if (line === "data" || line.startsWith("data:")) out.push(line + breaks[k]!);
      else {
        const masked = this.#otherLine(line);
        out.push(masked === undefined ? undefined : masked + breaks[k]!);
      }
    }
    if (data !== undefined && ev.data !== undefined) {
      const masked = ev.endpoint ? this.#maskLine(data) : this.#mask(data);
      if (masked !== ev.data) {
        const inner = breaks[dataLines[0]!] || "\n";
        const last = breaks[dataLines.at(-1)!]!;
        for (const k of dataLines) out[k] = undefined;
        out[dataLines[0]!] = masked.split("\n").map((l) => `data: ${l}`).join(inner) + last;
      }
    }
    let event = "";
    for (const l of out) if (l !== undefined) event += l;
    this.#out.push(event + ev.end);
  }

  /**
   * Every other line is data too: a client may read any field, and an upstream may put anything in a comment
   * or an unknown field (masked whole: sse-unread-line.ts). Its value is masked as event data is; a masked
   * value that would need a line break cannot be written back on one line, so the stream is refused.
   */
  #otherLine(line: string): string | undefined {
    if (hasOtherBreak(line)) return maskAcrossBreaks(line, (l) => this.#otherLine(l), (t) => this.#maskLine(t));
    if (unreadLine(line)) return maskUnreadLine(line, this.#mask);
    const colon = line.indexOf(":");
    const name = colon >= 0 ? line.slice(0, colon) : line;
    let value = colon >= 0 ? line.slice(colon + 1) : "";
    const space = value.startsWith(" ") ? " " : "";
    value = value.slice(space.length);
    if (colon < 0) {
      // A field name alone: the name is all there is to read.
      const masked = this.#maskLine(name);
      if (masked.includes("\n") || masked.includes("\r") || masked.includes(":")) throw new RegateError("MASK_LINEAGE_UNKNOWN", "server-sent event line cannot be masked");
      return masked;
    }
    if (value === "") return line;
    const masked = this.#maskLine(value);
    if (masked === value) return line;
    if (masked.includes("\n") || masked.includes("\r")) throw new RegateError("MASK_LINEAGE_UNKNOWN", "server-sent event line cannot be masked");
    return `${name}:${space}${masked}`;
  }

  /**
   * A line other than data carries a name, an id or a comment: a text value, not the event's document. It
   * is handed to `mask` as a JSON string, so a masker that refuses non-JSON data (field rules) masks it as
   * it masks a string in a document: detectors over the text, field rules inside any JSON the text holds.
   * A null (the `null` strategy) leaves the value empty.
   */
  #maskLine(value: string): string {
    const encoded = JSON.stringify(value);
    const masked = this.#mask(encoded);
    if (masked === encoded) return value;
    let decoded: unknown;
    try {
      decoded = JSON.parse(masked);
    } catch {
      decoded = undefined;
    }
    if (decoded === null) return "";
    if (typeof decoded !== "string") throw new RegateError("MASK_LINEAGE_UNKNOWN", "server-sent event line cannot be masked");
    return decoded;
  }
}
