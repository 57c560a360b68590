// The end of a request: stop what is left of the upstream exchange, log the request line, report it.

import { pino, type Logger } from "pino";
import { LogBatch, SecretScrubber, type SecretSource } from "../audit/index.js";
import { timeInput } from "../decision/index.js";
import type { RequestContext } from "./context.js";
import type { RequestDoneInfo, RouteOptions } from "./options.js";

export interface RequestEnd {
  /** Called once per request, when its response closes. */
  done(ctx: RequestContext): void;
  /** Writes the request lines still waiting for their batch. */
  close(): void;
}

/** Where pino writes: request lines go straight there, in batches, as the decision log's lines do. */
interface LineStream {
  write(line: string): unknown;
}

const str = (v: string): string => JSON.stringify(v);

/**
 * The request line, assembled as pino would write it (level, time, the logger's bindings, the fields, msg),
 * but without pino's generic serialiser: the keys are fixed and flat and every value is a string, number or
 * boolean of known shape, so each is written as it is. pino's serialisation of this object was the largest
 * cost of regate's own HTTP code. Its keys name no secret, so the root logger's wildcard redaction, which
 * could never match here, is not needed either; the path is masked for personal data before it is stored,
 * and a secret regate holds typed into it is scrubbed from the batch (requestEnd).
 */
function requestLine(level: "info" | "warn", bindings: string, ctx: RequestContext, status: number, duration_ms: number): string {
  const d = ctx.decision;
  // The time as pino's isoTime writes it, formatted once per millisecond (timeInput) rather than per line;
  // the request id is the gateway's randomUUID (hex and dashes): nothing in it to escape.
  let line = `{"level":"${level}","time":"${timeInput().rfc3339}"${bindings},"req_id":"${ctx.id}"`;
  if (ctx.principal) line += `,"agent":${str(ctx.principal.subject)}`;
  if (ctx.route) line += `,"route":${str(ctx.route.name)}`;
  line += `,"method":${str(ctx.method)},"path":${str(ctx.logPath)},"status":${status}`;
  if (d) {
    line += `,"outcome":"${d.outcome}"`;
    if (d.dry_run) line += `,"dry_run":true`;
    line += `,"decision_id":${str(d.decision_id)}`;
  }
  line += `,"masked":${ctx.masked}`;
  if (ctx.errorCode) line += `,"error_code":"${ctx.errorCode}"`;
  if (ctx.authFailure) line += `,"auth_failure":${str(ctx.authFailure)}`;
  if (!ctx.res.writableFinished) line += `,"aborted":true`;
  // Ended by a lock: refused mid-way, or its stream cut (exchange-cut.ts).
  if (ctx.cutBy) line += `,"lock_id":${str(ctx.cutBy)}`;
  return `${line},"duration_ms":${duration_ms},"msg":"http request"}\n`;
}

/**
 * What happens once per request when its response closes: the request line, then the hook. `secrets` (those
 * regate holds) are scrubbed from the lines, as from the decision log's: an agent can type one into a path.
 */
export function requestEnd(log: Logger, onRequestDone: ((info: RequestDoneInfo) => void) | undefined, secrets: SecretSource): RequestEnd {
  const scrubber = new SecretScrubber(secrets);
  // pino always has a destination stream; the decision log writes to the same one.
  const stream = (log as unknown as Record<symbol, LineStream>)[pino.symbols.streamSym]!;
  const lines = new LogBatch<string>((batch) => stream.write(scrubber.scrub(batch.join(""))));
  const bound = JSON.stringify(log.bindings());
  const bindings = bound === "{}" ? "" : `,${bound.slice(1, -1)}`;
  const done = (ctx: RequestContext): void => {
    clearTimeout(ctx.timer);
    const { res } = ctx;
    if (!res.writableFinished) {
      // The agent went away: stop the upstream exchange too.
      ctx.proxyReq?.destroy();
      ctx.proxyRes?.destroy();
    }
    const duration_ms = Math.round((performance.now() - ctx.startedAt) * 1000) / 1000;
    const d = ctx.decision;
    const status = res.headersSent ? res.statusCode : 0;
    const level = ctx.errorCode && status >= 500 ? "warn" : "info";
    if (log.isLevelEnabled(level)) {
      const line = requestLine(level, bindings, ctx, status, duration_ms);
      lines.push(line, line.length);
    }
    try {
      onRequestDone?.({
        request_id: ctx.id,
        route: ctx.route?.name,
        method: ctx.method,
        status,
        outcome: d?.outcome,
        decision_id: d?.decision_id,
        masked: ctx.masked,
        error_code: ctx.errorCode,
        duration_ms,
        bytes: ctx.req.socket.bytesWritten - ctx.sentBefore,
        aborted: !res.writableFinished,
        lock_id: ctx.cutBy,
      });
    } catch (err) {
      log.error({ err: { message: (err as Error)?.message } }, "onRequestDone hook failed");
    }
  };
  return { done, close: () => lines.close() };
}

/** A route's credential as an agent might type it: whole, and a basic credential's password alone. */
export function routeSecrets(r: RouteOptions): string[] {
  const c = r.credential;
  if (!c) return [];
  const password = c.type === "basic" ? c.value.slice(c.value.indexOf(":") + 1) : "";
  return password ? [c.value, password] : [c.value];
}
