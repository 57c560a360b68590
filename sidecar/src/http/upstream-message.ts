// An upstream response as regate's response code reads it: the status, the headers in node:http's shape, the
// raw header pairs, and the body as a Readable whose pace is the agent's. Built from undici's raw callbacks
// (forward.ts), so that every consumer reads exactly what it read when node:http's IncomingMessage was the
// source, and a difference between the two clients cannot change what reaches an agent.

import type { IncomingHttpHeaders } from "node:http";
import { Readable } from "node:stream";
import type { ReadUpstreamResult } from "./response-body.js";

/**
 * Repeats node:http keeps only the first of (its documented list): a second Content-Type or Content-Length
 * must not be joined into a value regate then reads one way and the agent another.
 */
const FIRST_ONLY: ReadonlySet<string> = new Set([
  "age",
  "authorization",
  "content-length",
  "content-type",
  "etag",
  "expires",
  "from",
  "host",
  "if-modified-since",
  "if-unmodified-since",
  "last-modified",
  "location",
  "max-forwards",
  "proxy-authorization",
  "referer",
  "retry-after",
  "server",
  "user-agent",
]);

/**
 * Header pairs as node:http folds them: bytes read as latin1, names lowercased, the FIRST_ONLY names' repeats
 * dropped, set-cookie as a list, cookie joined with "; ", every other repeat joined with ", ".
 */
export function nodeHeaders(raw: readonly string[]): IncomingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    // A header named after Object.prototype's accessor would reach the prototype, not the record (node's
    // object ignores it the same way).
    if (name === "__proto__") continue;
    // Own members only: a header named `constructor` or `toString` is a new name, not Object's member joined with it.
    const had = Object.hasOwn(out, name) ? out[name] : undefined;
    if (had === undefined) out[name] = name === "set-cookie" ? [value] : value;
    else if (name === "set-cookie") (had as string[]).push(value);
    else if (!FIRST_ONLY.has(name)) out[name] = `${had as string}${name === "cookie" ? "; " : ", "}${value}`;
  }
  return out as IncomingHttpHeaders;
}

/**
 * undici's raw header buffers as node:http's rawHeaders: latin1, so each byte is one character, as node reads
 * them; and a value's trailing spaces and tabs dropped (RFC 9110 5.5 OWS), which undici keeps and node does not,
 * so that regate compares, scrubs and relays the value node:http gave it.
 */
export function rawHeaderStrings(raw: readonly Buffer[]): string[] {
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    let end = b.length;
    if (i % 2 === 1) while (end > 0 && (b[end - 1] === 0x20 || b[end - 1] === 0x09)) end--;
    out[i] = b.toString("latin1", 0, end);
  }
  return out;
}

/** The forwarded request as the rest of regate holds it: its path (for Location rewriting) and a way to stop it. */
export interface UpstreamRequest {
  readonly path: string;
  destroy(): void;
  /**
   * Sends `body` (JSON) to the same upstream path with the same forwarded headers, its answer ignored: an MCP
   * notifications/cancelled after the request was aborted, which a server running the call would not
   * otherwise learn of (a closed connection does not stop a tool call in the SDKs).
   */
  notify(body: string): void;
}

/** What the response needs from the request that carries it. */
export interface UpstreamExchange {
  /** Let undici read more of the body (it was held back). */
  resume(): void;
  /** Abort the request, which closes its connection: nothing unread on it may answer another request. */
  abort(): void;
}

/** Node's own error for a body cut short by the upstream: consumers treat it as a disconnect. */
function cutShort(): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error("aborted");
  err.code = "ECONNRESET";
  return err;
}

export class UpstreamResponse extends Readable {
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly rawHeaders: string[];
  /** The whole body arrived (false if it was cut short, or regate stopped reading it). */
  complete = false;
  /** The upstream cut the body short (node's `aborted`). */
  aborted = false;
  #headers: IncomingHttpHeaders | undefined;
  readonly #exchange: UpstreamExchange;
  /** Set while the body is read whole (readWhole): chunks go there, not through the stream. */
  #whole: WholeRead | undefined;

  constructor(statusCode: number, statusMessage: string, rawHeaders: string[], exchange: UpstreamExchange) {
    super();
    this.statusCode = statusCode;
    this.statusMessage = statusMessage;
    this.rawHeaders = rawHeaders;
    this.#exchange = exchange;
  }

  /** Folded on first read, as node:http does: most responses are relayed without anyone asking for them. */
  get headers(): IncomingHttpHeaders {
    return (this.#headers ??= nodeHeaders(this.rawHeaders));
  }

  override _read(): void {
    this.#exchange.resume();
  }

  /**
   * The whole body, up to `max` bytes, failing if the upstream goes quiet for `idleMs` (undefined: it may take
   * its time, as a streamed body may): readUpstreamBody's answers for a body with no content-encoding, without
   * a stream's events and ticks (small bodies are most responses). False, and nothing done, once any of the
   * body was read the stream's way. `handoff`: a body not whole `afterMs` after this call is given back to the
   * stream instead (what arrived so far first, in order), `done` is never called, and `stream` is, to read it
   * the stream's way: an upstream that drips its body does not keep the agent waiting for the head.
   */
  readWhole(max: number, idleMs: number | undefined, done: (r: ReadUpstreamResult) => void, handoff?: { readonly afterMs: number; readonly stream: () => void }): boolean {
    if (this.#whole || this.complete || this.destroyed || this.readableLength > 0 || this.readableDidRead) return false;
    const timer = idleMs === undefined ? undefined : setTimeout(() => this.#settle({ ok: false, reason: "timeout" }), idleMs);
    const w: WholeRead = { chunks: [], size: 0, max, timer, handoff: undefined, done, settled: false };
    if (handoff) w.handoff = setTimeout(() => this.#handOff(w, handoff.stream), handoff.afterMs);
    this.#whole = w;
    return true;
  }

  #settle(r: ReadUpstreamResult): void {
    const w = this.#whole!;
    if (w.settled) return;
    w.settled = true;
    if (w.timer !== undefined) clearTimeout(w.timer);
    if (w.handoff !== undefined) clearTimeout(w.handoff);
    if (!r.ok) this.destroy();
    w.done(r);
  }

  /** The whole read gives up waiting: the chunks so far go into the stream, which reads the rest. */
  #handOff(w: WholeRead, stream: () => void): void {
    if (w.settled || this.#whole !== w) return;
    w.settled = true;
    if (w.timer !== undefined) clearTimeout(w.timer);
    this.#whole = undefined;
    for (const c of w.chunks) this.push(c);
    stream();
  }

  /** A body chunk; false asks undici to hold the next ones until the reader wants more. */
  chunk(data: Buffer): boolean {
    const w = this.#whole;
    if (w === undefined) return this.push(data);
    if (w.settled) return true;
    w.timer?.refresh();
    w.size += data.length;
    if (w.size > w.max) this.#settle({ ok: false, reason: "too_large" });
    else w.chunks.push(data);
    return true;
  }

  finish(): void {
    this.complete = true;
    const w = this.#whole;
    if (w === undefined) this.push(null);
    else this.#settle({ ok: true, body: Buffer.concat(w.chunks, w.size) });
  }

  /** The upstream failed mid-body: 'aborted', then node's ECONNRESET error, then 'close'. */
  fail(): void {
    if (this.complete || this.destroyed) return;
    this.aborted = true;
    if (this.#whole) this.#settle({ ok: false, reason: "aborted" });
    this.emit("aborted");
    this.destroy(cutShort());
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    // Given up before its end (a refusal, the agent gone): the connection goes with it, so the unread rest
    // cannot be taken for the answer to the next request sent there.
    if (!this.complete) this.#exchange.abort();
    // Destroyed by regate while read whole (the agent hung up): nothing more comes.
    if (this.#whole && !this.complete) this.#settle({ ok: false, reason: "aborted" });
    // As node:http does: an error nobody listens for ends the stream without throwing.
    done(this.listenerCount("error") > 0 ? err : null);
  }
}

/** A body being read whole (UpstreamResponse.readWhole). */
interface WholeRead {
  readonly chunks: Buffer[];
  size: number;
  readonly max: number;
  readonly timer: NodeJS.Timeout | undefined;
  /** Set when the body goes back to the stream if not whole in time (readWhole's `handoff`). */
  handoff: NodeJS.Timeout | undefined;
  readonly done: (r: ReadUpstreamResult) => void;
  settled: boolean;
}
