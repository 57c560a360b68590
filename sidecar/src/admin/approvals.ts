import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ActError, ActResult, Approval, ApprovalService, ApprovalStatus, ReviewerIdentity } from "../approval/index.js";
import { approvalsPage } from "./approvals-page.js";
import { isAgentToken, pathPart } from "./bearer.js";

export interface Reviewer {
  name: string;
  token: string;
  /** Reviewer groups (the policy's approve.approvers may require one). */
  groups?: string[];
}

/** not_an_approver: outside the policy's approvers groups; self_approval: the requester or an agent identity. */
const STATUS_OF: Record<ActError, number> = { not_found: 404, not_pending: 409, hash_mismatch: 409, already_voted: 409, reason_required: 400, not_an_approver: 403, self_approval: 403 };
const STATUSES = new Set<ApprovalStatus>(["pending", "approved", "refused", "expired", "withdrawn", "abandoned"]);
const MAX_BODY = 16 * 1024;

/**
 * The approvals API on the admin listener (docs/approvals.md):
 *   GET  /approvals[?status=pending]      list
 *   GET  /approvals/{id}                   show one
 *   POST /approvals/{id}/approve  {sha256, comment?}
 *   POST /approvals/{id}/refuse   {comment}
 *   GET  /approvals/ui                     the review page (its script calls the API)
 * Every API call needs `Authorization: Bearer <reviewer token>`; the token names the reviewer.
 * No cookies: a cross-site page cannot act for a reviewer, and POST takes only application/json.
 */
export function approvalsHandler(service: ApprovalService, reviewers: Reviewer[], agentTokens?: () => readonly string[]): (req: IncomingMessage, res: ServerResponse, url: string) => boolean {
  const digests = reviewers.map((r) => ({ who: { name: r.name, groups: r.groups ?? [] }, digest: createHash("sha256").update(r.token).digest() }));
  const reviewerOf = (req: IncomingMessage): ReviewerIdentity | undefined => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    if (!m) return undefined;
    const d = createHash("sha256").update(m[1]!).digest();
    // An agent never reviews its own requests, whatever token a reviewer entry was given.
    if (isAgentToken(d, agentTokens)) return undefined;
    let found: ReviewerIdentity | undefined;
    for (const r of digests) if (timingSafeEqual(r.digest, d)) found = r.who;
    return found;
  };
  return (req, res, url) => {
    if (url !== "/approvals" && !url.startsWith("/approvals/")) return false;
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", "x-content-type-options": "nosniff" });
      res.end(JSON.stringify(body, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
    };
    if (url === "/approvals/ui" || url === "/approvals/ui/") {
      if (req.method !== "GET") return json(405, { error: "method not allowed" }), true;
      res.writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        // The page loads nothing but itself: no base to re-point, no form to post elsewhere, no referrer to leak.
        "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      });
      res.end(approvalsPage());
      return true;
    }
    const reviewer = reviewerOf(req);
    if (!reviewer) return json(401, { error: "a reviewer token is required (Authorization: Bearer …)" }), true;
    const parts = url.split("/").filter(Boolean); // approvals, id?, action?
    const id = parts[1] ? pathPart(parts[1]) : undefined;
    if (parts[1] && id === undefined) return json(400, { error: "the approval id in the path is not valid percent-encoding" }), true;
    if (req.method === "GET" && parts.length === 1) {
      const status = new URL(req.url ?? "/", "http://x").searchParams.get("status");
      if (status && !STATUSES.has(status as ApprovalStatus)) return json(400, { error: `unknown status ${status}` }), true;
      return json(200, { approvals: service.list((status as ApprovalStatus) || undefined).map(view) }), true;
    }
    if (req.method === "GET" && parts.length === 2 && id) {
      const a = service.get(id);
      if (a) return json(200, view(a)), true;
      // A shared store: made on another replica a moment ago, not yet in this one's copy.
      void service.read(id).then(
        (fresh) => (fresh ? json(200, view(fresh)) : json(404, { error: "no such approval" })),
        () => json(503, { error: "store_unavailable", next_step: "the approval store cannot be reached; retry shortly" }),
      );
      return true;
    }
    if (req.method === "POST" && parts.length === 3 && id && (parts[2] === "approve" || parts[2] === "refuse")) {
      if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) return json(415, { error: "send application/json" }), true;
      readJson(req).then(
        async (body) => {
          const comment = typeof body["comment"] === "string" ? body["comment"] : "";
          let result: ActResult;
          if (parts[2] === "approve" && typeof body["sha256"] !== "string") return json(400, { error: "sha256 of the statement you reviewed is required" });
          try {
            result = parts[2] === "approve" ? await service.approve(id, reviewer, body["sha256"] as string, comment || undefined) : await service.refuse(id, reviewer, comment);
          } catch {
            // A shared store (approvals.store: postgres) that cannot be reached: nothing changed.
            return json(503, { error: "store_unavailable", next_step: "the approval store cannot be reached; retry shortly" });
          }
          if (result.ok) return json(200, view(result.approval));
          const status = STATUS_OF[result.error];
          json(status, { error: result.error });
        },
        () => json(400, { error: "body must be a JSON object of at most 16 KiB" }),
      );
      return true;
    }
    json(req.method === "GET" || req.method === "POST" ? 404 : 405, { error: "not found" });
    return true;
  };
}

function view(a: Approval): Approval {
  return a;
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error("too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => {
      try {
        const v: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        if (v && typeof v === "object" && !Array.isArray(v)) resolve(v as Record<string, unknown>);
        else reject(new Error("not an object"));
      } catch (e) {
        reject(e as Error);
      }
    });
    req.on("error", reject);
  });
}
