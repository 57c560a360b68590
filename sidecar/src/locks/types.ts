import type { Principal } from "../decision/index.js";

/**
 * What a lock stops (Teleport's lock targets): one agent by subject, every agent of a group, one
 * credential by its id (never its value), or one live session.
 */
export type LockTarget = { principal: string } | { group: string } | { token: string } | { session: string };

export interface Lock {
  /** `lk_` and 16 hex digits. */
  id: string;
  target: LockTarget;
  /** Shown to the locked agent and to operators: why, and what to do. */
  message: string;
  created_at: string;
  /** The responder who created it. */
  created_by: string;
  /** Absent: until removed. */
  expires_at?: string;
}

/**
 * Where locks live. `snapshot()` is synchronous (read on every decision) and reflects what the store
 * knows now; `add`/`remove` resolve once the change is durable for every replica that shares the store.
 */
export interface LockStore {
  snapshot(): readonly Lock[];
  add(lock: Lock): Promise<void>;
  remove(id: string): Promise<boolean>;
  /** Called with locks this process learnt of (its own or another replica's), once each. */
  onAdded(listener: (locks: Lock[]) => void): void;
  close(): Promise<void>;
}

/**
 * The id of the credential a principal presented, for `token` locks: a JWT's `jti` when it has one,
 * else the name the credential is configured under (a static token's subject). Never the secret.
 */
export function tokenId(p: Principal): string | undefined {
  if (p.auth_method === "jwt") return typeof p.claims["jti"] === "string" ? p.claims["jti"] : undefined;
  return p.subject;
}

export function matches(lock: Lock, principal: Principal, sessionId?: string): boolean {
  const t = lock.target;
  if ("principal" in t) return principal.subject === t.principal;
  if ("group" in t) return principal.groups.includes(t.group);
  if ("token" in t) return tokenId(principal) === t.token;
  return sessionId !== undefined && sessionId === t.session;
}

export function isLive(lock: Lock, now = Date.now()): boolean {
  return lock.expires_at === undefined || Date.parse(lock.expires_at) > now;
}

export function describeTarget(t: LockTarget): string {
  const [kind, value] = Object.entries(t)[0]!;
  return `${kind} ${value}`;
}
