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
  /**
   * A shared store (postgres): a lock another worker of this regate has just stored, known here at once rather
   * than when its NOTIFY arrives (cluster/shared-lock-store.ts); as add() leaves it, without writing it again.
   */
  adopt?(lock: Lock): void;
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

/** Code points that show as nothing: a name that differs from another only by these reads the same. */
const INVISIBLE = /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0]/gu;

/**
 * A subject or group name as a responder reads and types it: compatibility forms (fullwidth letters,
 * ligatures, odd spaces) folded by NFKC, case folded, invisible code points and outer space dropped. A
 * lock on `Test-Agent` stops `test-agent` and `ｔｅｓｔ-agent`: a lock that names an agent the way the
 * responder saw it must not miss it by a spelling nobody can see, and stopping a look-alike as well errs
 * the way an emergency stop should. Letters of other scripts that look alike (Cyrillic а) are not folded.
 */
export function foldName(name: string): string {
  return name.normalize("NFKC").replace(INVISIBLE, "").toLowerCase().trim();
}

const folded = new WeakMap<object, string>();
function foldedOf(key: object, name: string): string {
  let f = folded.get(key);
  if (f === undefined) folded.set(key, (f = foldName(name)));
  return f;
}

/** Whether `name` is the target's name as foldName reads both; `key` caches the target's fold. */
export function sameName(target: object, targetName: string, name: string): boolean {
  return name === targetName || foldedOf(target, targetName) === foldName(name);
}

export function matches(lock: Lock, principal: Principal, sessionId?: string): boolean {
  const t = lock.target;
  if ("principal" in t) return principal.subject === t.principal || foldedOf(t, t.principal) === foldedOf(principal, principal.subject);
  if ("group" in t) return principal.groups.some((g) => sameName(t, t.group, g));
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
