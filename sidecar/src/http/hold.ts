// An `approve` decision on the HTTP path (docs/approvals.md): the request is held for a reviewer (hold
// mode, at most hold_max_seconds) or answered at once (defer mode), and forwarded only once approved and
// only if it is still the request that was approved (same SHA-256).

import { createHash } from "node:crypto";
import { coveredHeaders } from "./approved-headers.js";
import type { Decision, PolicyInput } from "../decision/types.js";
import type { RequestContext } from "./context.js";
import type { Verdict } from "./enforce.js";
import { refusal } from "./enforce.js";
import { jsonRpcRefusal, sendJsonRpc } from "./mcp-refusal.js";
import { sendError, type ErrorBody } from "./reply.js";
import { withoutRequestId } from "./rpc-text.js";
import { reviewView, type HttpBodyShown } from "../approval/index.js";

/** What is asked to be approved (the approval service's subject, declared here: adapters do not import sinks). */
export interface HttpApprovalSubject {
  kind: "http";
  session_id: string;
  principal: string;
  target: string;
  statement: { message: string; sql: string; parameters?: unknown[] };
  sha256: string;
  current(): string;
  in_transaction: boolean;
}

/** The approval service as the HTTP adapter uses it (approval/ApprovalService, injected by app.ts). */
export interface HttpApprovals {
  request(subject: HttpApprovalSubject, decision: Decision, control: { signal: AbortSignal }): Promise<Decision>;
}

/** At most this much of a body is shown to reviewers (the digest covers all of it). */
const SHOWN_BODY_BYTES = 16 * 1024;

/**
 * SHA-256 of what the upstream would execute: principal, route, method, canonical path, query, how the body
 * is to be read (its Content-Type and Content-Encoding: the same bytes sent as a form or as JSON are another
 * request to most frameworks), the other request headers it gets (approved-headers.ts: an X-Account-Id or
 * an Idempotency-Key changes what runs) and the body's exact bytes, each length-delimited by JSON. A single
 * JSON-RPC request (an MCP tools/call) is hashed as its exact text with its `id` value set to null: a client
 * numbers every call anew, and the id does not change what runs.
 */
export function requestHash(
  principal: string,
  route: string,
  method: string,
  path: string,
  query: string,
  reading: readonly string[],
  headers: readonly (readonly [string, string])[],
  body: Buffer,
  parsedBody?: unknown,
): string {
  const rpc = jsonRpcRequest(parsedBody);
  // The exact text but for the id (rpc-text.ts); where it cannot be set apart, the exact bytes.
  const text = rpc ? withoutRequestId(body) : undefined;
  const what = text !== undefined ? { jsonrpc: text } : { hex: body.toString("hex") };
  return createHash("sha256").update(JSON.stringify([principal, route, method, path, query, reading, headers, what]), "utf8").digest("hex");
}

/** A single JSON-RPC request without its id (key order kept as sent), or undefined. */
function jsonRpcRequest(v: unknown): Record<string, unknown> | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (o["jsonrpc"] !== "2.0" || typeof o["method"] !== "string" || !("id" in o)) return undefined;
  const { id: _id, ...rest } = o;
  return rest;
}

/**
 * Settles an `approve` verdict: the allowed verdict to forward with, or undefined once the agent has been
 * answered (refused, still pending, expired, withdrawn). A verdict judged on two inputs (a method
 * override) keeps the plain refusal: one digest cannot stand for two readings of the request.
 */
export async function settleApproval(
  approvals: HttpApprovals,
  ctx: RequestContext,
  inputs: readonly PolicyInput[],
  verdict: Verdict,
  body: Buffer,
  forwarded: { body: Buffer; inflated: boolean },
  parsedBody: unknown,
): Promise<Verdict | undefined> {
  const http = inputs[0]?.http as { method: string; path: string; query: string; trailing_slash?: boolean } | undefined;
  if (inputs.length !== 1 || !http || !ctx.principal || !ctx.route) return verdict;
  const principal = ctx.principal.subject;
  const route = ctx.route.name;
  // The path as it is forwarded: the canonical path drops a trailing slash that the upstream still gets,
  // and `/refunds/1/` may be another resource than `/refunds/1`: approving one is not approving the other.
  const path = http.trailing_slash && http.path !== "/" ? `${http.path}/` : http.path;
  const h = ctx.req.headers;
  const reading = [(h["content-type"] ?? "").trim().toLowerCase(), (h["content-encoding"] ?? "").trim().toLowerCase()];
  const compiled = ctx.route;
  const headers = coveredHeaders(h, compiled);
  const sha256 = requestHash(principal, route, http.method, path, http.query, reading, headers, body, parsedBody);
  const gone = new AbortController();
  const onClose = () => {
    if (!ctx.res.writableFinished) gone.abort();
  };
  ctx.res.once("close", onClose);
  const shown = body.length > 0 ? reviewBody(body, reading[1]!, forwarded) : undefined;
  // The headers the digest covers are shown above the body, as a request's headers are written: how the
  // body is read first, then every other covered one (visible() marks what would not show as itself).
  const request = [
    `${http.method} ${path}${http.query ? `?${http.query}` : ""}`,
    ...(reading[0] || body.length > 0 ? [`Content-Type: ${reading[0] || "(none)"}`] : []),
    ...(reading[1] ? [`Content-Encoding: ${reading[1]}`] : []),
    ...headers.map(([name, value]) => `${name}: ${value}`),
  ].join("\n");
  const d = await approvals.request(
    {
      kind: "http",
      session_id: ctx.id,
      principal,
      target: route,
      statement: { message: "http", ...reviewView(verdict.decision, request, shown ? [shown] : undefined) },
      sha256,
      // The body buffer and request facts are immutable here; the headers are read again, from the object
      // the forwarded ones will be built from.
      current: () => requestHash(principal, route, http.method, path, http.query, reading, coveredHeaders(h, compiled), body, parsedBody),
      in_transaction: false,
    },
    verdict.decision,
    { signal: gone.signal },
  );
  ctx.res.off("close", onClose);
  ctx.decision = d;
  if (d.outcome === "allow") return { allowed: true, decision: d, mask: verdict.decision.mask };
  if (gone.signal.aborted || ctx.res.destroyed) return undefined;
  const r = refusal(d);
  const answer: ErrorBody & { approval_id?: string } = { ...r.body, error: slug(d.error_code), ...approvalId(d) };
  if (answer.code) ctx.errorCode = answer.code;
  const rpc = jsonRpcRefusal(parsedBody, answer, body);
  if (rpc === undefined) sendError(ctx.res, r.status, answer);
  else sendJsonRpc(ctx.res, rpc);
  return undefined;
}

/**
 * The body as the upstream gets it, for reviewers: the gateway's inflated copy of a compressed one (body.ts
 * upstreamBody, the bytes forwarded), its start only, and its bytes that are not UTF-8 kept as bytes
 * (reviewView marks them) rather than decoded to U+FFFD, which would hide what they are and look like a
 * character the agent sent.
 */
function reviewBody(raw: Buffer, encoding: string, forwarded: { body: Buffer; inflated: boolean }): HttpBodyShown {
  const b = forwarded.body;
  const shown = bodyShown(b.subarray(0, SHOWN_BODY_BYTES), b.length, b.length > SHOWN_BODY_BYTES);
  return forwarded.inflated ? { ...shown, compressed: { encoding, bytes: raw.length } } : shown;
}

function bodyShown(head: Buffer, bytes: number, truncated: boolean): HttpBodyShown {
  return { kind: "http_body", text: bytesAsText(head, truncated), bytes, truncated };
}

/**
 * UTF-8 text of `buf`, each byte that does not belong to a well-formed sequence written as the lone
 * surrogate U+DC80-U+DCFF (as Python's surrogateescape does): no UTF-8 decoding yields one, so reviewView can
 * show it as that byte. At a cut, a sequence begun but not ended is left out instead of marked.
 */
export function bytesAsText(buf: Buffer, cut: boolean): string {
  let out = "";
  let run = 0;
  let i = 0;
  while (i < buf.length) {
    const n = sequenceLength(buf, i);
    if (n > 0) {
      i += n;
      continue;
    }
    if (cut && n === -1) break;
    out += buf.toString("utf8", run, i) + String.fromCharCode(0xdc00 + buf[i]!);
    run = ++i;
  }
  return out + buf.toString("utf8", run, i);
}

/** Length of the well-formed UTF-8 sequence at `i` (RFC 3629), 0 if there is none, -1 if the buffer ends inside one. */
function sequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c === 0xe0) lo = 0xa0;
    if (c === 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c === 0xf0) lo = 0x90;
    if (c === 0xf4) hi = 0x8f;
  } else return 0;
  for (let k = 1; k < n; k++) {
    if (i + k >= b.length) return -1;
    const d = b[i + k]!;
    if (d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return 0;
  }
  return n;
}

function slug(code: string | undefined): string {
  return (code ?? "denied").toLowerCase();
}

function approvalId(d: Decision): { approval_id?: string } {
  const m = /apr_[0-9a-f]{16}/.exec(d.reasons.join(" "));
  return m ? { approval_id: m[0] } : {};
}
