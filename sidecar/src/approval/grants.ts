import type { Approval } from "./types.js";

/** At most this many unused grants are kept; the oldest goes first (each is one approved re-run). */
const MAX_GRANTS = 10_000;

/**
 * One-shot grants: an approval given while nobody was held lets exactly one request with the same
 * SHA-256 (principal, target, statement text, parameter values) through, until it expires.
 */
export class GrantStore {
  readonly #grants = new Map<string, { approval: Approval; until: number }>();

  put(sha256: string, approval: Approval, until: number): void {
    this.#grants.delete(sha256);
    this.#grants.set(sha256, { approval, until });
    if (this.#grants.size > MAX_GRANTS) this.#grants.delete(this.#grants.keys().next().value!);
  }

  /** The approval whose grant this request uses up, if one is live and was given for these objects. */
  take(sha256: string, objects: string | undefined, now = Date.now()): Approval | undefined {
    const g = this.#grants.get(sha256);
    if (!g || g.approval.objects !== objects) return undefined;
    this.#grants.delete(sha256);
    return g.until > now ? g.approval : undefined;
  }

  /** Drops the live grant of approval `id` for this digest (a newer approval's grant is left alone). */
  revoke(sha256: string, id: string, now = Date.now()): boolean {
    const g = this.#grants.get(sha256);
    if (!g || g.approval.id !== id) return false;
    this.#grants.delete(sha256);
    return g.until > now;
  }

  clear(): void {
    this.#grants.clear();
  }
}
