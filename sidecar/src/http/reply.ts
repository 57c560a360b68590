import type { ServerResponse } from "node:http";
import { ERROR_CODES, type ErrorCode } from "../errors.js";

/** The only error shape an agent ever sees from regate itself. Built from constants and policy reasons. */
export interface ErrorBody {
  error: string;
  reason: string;
  code?: ErrorCode;
  decision_id?: string;
  /** What the agent can do next (refusals by policy). */
  next_step?: string;
}

/**
 * Sends a small JSON error. `close` ends the connection afterwards: used when the request body was not
 * (fully) read, so a stalled or oversized upload cannot keep the socket busy.
 */
export function sendError(res: ServerResponse, status: number, body: ErrorBody, opts: { close?: boolean; headers?: Record<string, string> } = {}): void {
  if (res.headersSent) {
    // Too late for a status: the only honest signal left is an aborted response.
    res.destroy();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(payload),
    "cache-control": "no-store",
    ...(opts.close ? { connection: "close" } : {}),
    ...opts.headers,
  });
  res.end(payload);
}

/** An error body from the catalog, with its HTTP status. */
export function catalogError(code: ErrorCode, error: string, reason?: string): { status: number; body: ErrorBody } {
  const entry = ERROR_CODES[code];
  return { status: entry.http, body: { error, code, reason: reason ?? entry.message } };
}
