// A masked JSON response relayed as it streams (large or of unknown length): no whole-body buffer, no cap on
// the document's size, only on a single value.

import type { OutgoingHttpHeaders } from "node:http";
import type { UpstreamResponse } from "./upstream-message.js";
import type { Readable, Transform } from "node:stream";
import type { Logger } from "pino";
import { RegateError } from "../errors.js";
import type { RequestContext } from "./context.js";
import { JsonLinesMasker } from "./json-lines.js";
import { JsonMaskStream } from "./json-stream.js";
import type { ResponseMasker } from "./masker.js";
import { catalogError, sendError } from "./reply.js";
import { SecretScrubber } from "./scrub.js";
import { XssiStrip } from "./xssi.js";

/**
 * Output held back before the first byte goes out: a document that fits is refused cleanly if it turns out
 * not to be JSON (or too deep), and is sent with its length.
 */
const HOLD_CHARS = 64 * 1024;

type Failure = { kind: "timeout" } | { kind: "aborted" } | { kind: "decode" } | { kind: "invalid"; err: Error };

export interface StreamedJsonOptions {
  status: number;
  headers: OutgoingHttpHeaders;
  /** The content-encoding's decoder, null for identity. */
  decoder: Transform | null;
  masker: ResponseMasker;
  secrets: readonly Buffer[];
  /** Largest single JSON value (string or number) regate holds to mask. */
  maxValueBytes: number;
  /** Longest the upstream may go quiet mid-body. */
  idleMs: number;
  log: Logger;
  /**
   * The body is newline-delimited JSON (json-lines.ts): each line a document. "stream" when its length is
   * unknown: then each line goes out as soon as it is masked (a model's or a watch's output is not held back).
   */
  lines?: "whole" | "stream";
  /** Answers with the masking refusal (the upstream has acted) while nothing was sent yet. */
  refuse: (reason: string) => void;
}

export function relayStreamedJson(ctx: RequestContext, upstream: UpstreamResponse, o: StreamedJsonOptions): void {
  const { res } = ctx;
  const json = o.lines ? new JsonLinesMasker(o.masker, { holdChars: o.lines === "stream" ? 0 : HOLD_CHARS, maxLineChars: o.maxValueBytes }) : new JsonMaskStream(o.masker, { holdChars: HOLD_CHARS, maxTokenChars: o.maxValueBytes });
  const scrubber = o.secrets.length > 0 ? new SecretScrubber(o.secrets) : undefined;
  const last: Readable = scrubber ?? json;
  let over = false;

  const fail = (f: Failure): void => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    upstream.destroy();
    o.decoder?.destroy();
    json.destroy();
    scrubber?.destroy();
    if (res.destroyed) return;
    if (res.headersSent) {
      // Part of the document went out: cutting it short is the only honest signal left, and an agent cannot
      // take a truncated JSON document for a whole one.
      o.log.warn({ req_id: ctx.id, route: ctx.route?.name, failure: f.kind, reason: f.kind === "invalid" ? f.err.message : undefined }, "masked response cut short");
      res.destroy();
      return;
    }
    if (f.kind === "timeout" || f.kind === "aborted") {
      const e = f.kind === "timeout" ? catalogError("UPSTREAM_TIMEOUT", "upstream_timeout") : catalogError("UPSTREAM_UNAVAILABLE", "upstream_unavailable", "upstream closed the connection mid-response");
      ctx.errorCode = e.body.code;
      sendError(res, e.status, e.body);
      return;
    }
    if (f.kind === "decode") return o.refuse("response body could not be decoded");
    o.refuse(f.err instanceof RegateError ? f.err.message : "JSON response body does not parse");
  };

  // The upstream may go quiet for idleMs at most; waiting for a slow agent to read is not the upstream's
  // silence, so the clock stops while regate's own writes are held back.
  let timer: NodeJS.Timeout | undefined = setTimeout(() => fail({ kind: "timeout" }), o.idleMs);
  const arm = (): void => {
    clearTimeout(timer);
    timer = over ? undefined : setTimeout(() => fail({ kind: "timeout" }), o.idleMs);
  };
  upstream.on("data", () => timer?.refresh());
  upstream.on("error", () => fail({ kind: "aborted" }));
  upstream.on("aborted", () => fail({ kind: "aborted" }));
  upstream.on("close", () => {
    if (!upstream.complete) fail({ kind: "aborted" });
  });
  o.decoder?.on("error", () => fail({ kind: "decode" }));
  json.on("error", (err: Error) => fail({ kind: "invalid", err }));
  scrubber?.on("error", (err: Error) => fail({ kind: "invalid", err }));

  last.on("data", (chunk: Buffer) => {
    if (over) return;
    if (!res.headersSent) {
      // The whole document came out in one piece: its length is known (a scrubber may still re-cut it).
      if (json.wholeBody && !scrubber) o.headers["content-length"] = String(chunk.length);
      res.writeHead(o.status, o.headers);
    }
    if (!res.write(chunk)) {
      last.pause();
      clearTimeout(timer);
      timer = undefined;
      res.once("drain", () => {
        arm();
        last.resume();
      });
    }
  });
  last.on("end", () => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    if (!res.headersSent) {
      o.headers["content-length"] = "0";
      res.writeHead(o.status, o.headers);
    }
    if (scrubber?.found) o.log.warn({ req_id: ctx.id, route: ctx.route?.name }, "upstream echoed the route credential in a response body; replaced");
    res.end();
  });

  let source: Readable = upstream;
  if (o.decoder) source = source.pipe(o.decoder);
  if (json instanceof JsonMaskStream) {
    const strip = new XssiStrip((prefix) => json.lead(prefix));
    strip.on("error", (err: Error) => fail({ kind: "invalid", err }));
    source = source.pipe(strip);
  }
  source = source.pipe(json);
  if (scrubber) source.pipe(scrubber);
}
