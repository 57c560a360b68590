import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** A handler on the admin listener: answers true when the request was its own. */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse, url: string) => boolean;

export interface Person {
  name: string;
  token: string;
}

/**
 * Who a bearer token names, among `people`. Tokens are compared as SHA-256 digests against every entry
 * with no early exit, so neither a token's length nor which entry matched shows in the timing.
 */
export function bearerIdentity(people: readonly Person[], agentTokens?: () => readonly string[]): (req: IncomingMessage) => string | undefined {
  const digests = people.map((p) => ({ name: p.name, digest: createHash("sha256").update(p.token).digest() }));
  return (req) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    if (!m) return undefined;
    const d = createHash("sha256").update(m[1]!).digest();
    if (isAgentToken(d, agentTokens)) return undefined;
    let found: string | undefined;
    for (const p of digests) if (timingSafeEqual(p.digest, d) && found === undefined) found = p.name;
    return found;
  };
}

/**
 * Whether a presented token (its SHA-256) is an agent's credential as the agent directory holds it now.
 * The admin listener acts for people: an agent's own token never names a reviewer or responder, even
 * where a configuration gives a person the same token (or an agent's token file is rewritten to it).
 */
export function isAgentToken(digest: Buffer, agentTokens: (() => readonly string[]) | undefined): boolean {
  let hit = false;
  for (const t of agentTokens?.() ?? []) if (timingSafeEqual(createHash("sha256").update(t).digest(), digest)) hit = true;
  return hit;
}

/**
 * One segment of an admin path, percent-decoded; undefined for a malformed escape (`%E0%A4%A`), which
 * decodeURIComponent throws on: thrown in a request handler it would end the whole process, agents'
 * sessions included.
 */
export function pathPart(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/** The raw body, at most `max` bytes (Slack's signature is over the exact bytes). */
export function readBody(req: IncomingMessage, max = 16 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new Error("too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** A JSON object body sent as application/json (no cookies and no simple-form POSTs: no cross-site requests). */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) throw new Error("send application/json");
  const v: unknown = JSON.parse((await readBody(req)).toString("utf8"));
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("body must be a JSON object");
  return v as Record<string, unknown>;
}
