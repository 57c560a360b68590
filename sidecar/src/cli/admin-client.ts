import { readFileSync } from "node:fs";
import { ConfigError } from "../config/index.js";
import { adminBaseUrl } from "./config-arg.js";

export interface Out {
  out(s: string): void;
  err(s: string): void;
}

export const stdio: Out = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

export type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

/** The options every admin-listener command takes (with parseArgs): where the listener is, and the token file. */
export const ADMIN_OPTIONS = {
  url: { type: "string", short: "u" },
  config: { type: "string", short: "c" },
  "token-file": { type: "string" },
} as const;

/** Whose token a command uses: responders (sessions, locks) or reviewers (approvals). */
export const RESPONDER = { name: "responder", env: "REGATE_RESPONDER_TOKEN" } as const;
export const REVIEWER = { name: "reviewer", env: "REGATE_REVIEWER_TOKEN" } as const;

/**
 * A person's client of the admin listener: base URL from --url or the config, token from --token-file or
 * the role's environment variable. Returns an error line instead when either is missing.
 */
export function adminClient(
  values: { url?: string; config?: string; "token-file"?: string },
  env: NodeJS.ProcessEnv,
  role: { name: string; env: string } = RESPONDER,
): { call: Call; base: string } | string {
  let base: string;
  try {
    base = adminBaseUrl(values.url, values.config, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.message;
  }
  const token = values["token-file"] ? readFileSync(values["token-file"], "utf8").trim() : env[role.env];
  if (!token) return `a ${role.name} token is required (--token-file or ${role.env})`;
  const call: Call = async (method, path, body) => {
    const res = await fetch(new URL(path, base), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, body: await res.json().catch(() => ({})) };
  };
  return { call, base };
}

/** Exit 1 for transport, auth and server errors; 2 when the API refused the request itself. */
export function apiFailed(io: Out, what: string, r: { status: number; body: any }): number {
  io.err(`regate ${what}: HTTP ${r.status}: ${r.body?.error ?? "error"}\n`);
  return r.status === 401 || r.status >= 500 ? 1 : 2;
}

export function oneLine(sql: string, max = 60): string {
  const s = sql.replace(/\s+/g, " ").trim();
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}
