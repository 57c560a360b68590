import { GrantStore } from "./grants.js";
import type { ApprovalStore, StoredTerms, VoteResult } from "./store.js";
import type { Approval, ApprovalStatus, Vote } from "./types.js";

/**
 * Approvals of this process only (one replica; the default). Every change happens synchronously inside
 * the call, before the returned promise settles, so what the API lists is current as soon as it returns.
 */
export class MemoryApprovalStore implements ApprovalStore {
  readonly shared = false;
  readonly #pending = new Map<string, { approval: Approval; terms: StoredTerms; held: boolean }>();
  /** Pending approval id by digest: a re-run of a pending request joins it instead of asking twice. */
  readonly #byHash = new Map<string, string>();
  readonly #grants = new GrantStore();
  readonly #history: Approval[] = [];

  constructor(private readonly historySize = 1000) {}

  get(id: string): Approval | undefined {
    return this.#pending.get(id)?.approval ?? this.#history.find((a) => a.id === id);
  }

  list(): Approval[] {
    return [...[...this.#pending.values()].map((e) => e.approval), ...this.#history].sort((a, b) => b.requested_at.localeCompare(a.requested_at));
  }

  async pendingFor(sha256: string): Promise<Approval | undefined> {
    const id = this.#byHash.get(sha256);
    return id ? this.#pending.get(id)?.approval : undefined;
  }

  async read(id: string): Promise<Approval | undefined> {
    return this.get(id);
  }

  async create(a: Approval, terms: StoredTerms, held: boolean): Promise<void> {
    this.#pending.set(a.id, { approval: a, terms, held });
    this.#byHash.set(a.sha256, a.id);
  }

  async hold(id: string, held: boolean): Promise<{ changed: boolean; approval?: Approval }> {
    const e = this.#pending.get(id);
    if (!e || e.held === held) return { changed: false, ...(this.get(id) ? { approval: this.get(id)! } : {}) };
    e.held = held;
    return { changed: true, approval: e.approval };
  }

  async vote(id: string, vote: Vote): Promise<VoteResult> {
    const e = this.#pending.get(id);
    if (!e) return { ok: false, error: this.get(id) ? "not_pending" : "not_found" };
    const a = e.approval;
    if (a.votes.some((v) => v.reviewer === vote.reviewer)) return { ok: false, error: "already_voted" };
    a.votes.push(vote);
    if (a.votes.length < e.terms.min) return { ok: true, approval: a };
    this.#end(a, "approved", vote.reviewer, vote.comment);
    if (!e.held) {
      const until = Date.parse(a.decided_at!) + e.terms.grantSeconds * 1000;
      a.grant_expires_at = new Date(until).toISOString();
      this.#grants.put(a.sha256, a, until);
    }
    return { ok: true, approval: a };
  }

  async finish(id: string, status: Exclude<ApprovalStatus, "pending" | "approved">, reviewer?: string, comment?: string): Promise<Approval | undefined> {
    const e = this.#pending.get(id);
    if (!e) return undefined;
    this.#end(e.approval, status, reviewer, comment);
    return e.approval;
  }

  async use(id: string): Promise<Approval | undefined> {
    const a = this.#history.find((x) => x.id === id);
    if (!a || a.status !== "approved" || a.used_at || a.grant_expires_at) return undefined;
    a.used_at = new Date().toISOString();
    return a;
  }

  async takeGrant(sha256: string, objects?: string): Promise<Approval | undefined> {
    const a = this.#grants.take(sha256, objects);
    if (a) a.used_at = new Date().toISOString();
    return a;
  }

  async revokeGrant(id: string): Promise<Approval | undefined> {
    const a = this.#history.find((x) => x.id === id);
    if (!a || a.status !== "approved" || a.used_at || !a.grant_expires_at || !this.#grants.revoke(a.sha256, id)) return undefined;
    a.grant_expires_at = new Date().toISOString();
    return a;
  }

  onChange(): void {}

  onSwept(): void {}

  async close(): Promise<void> {
    this.#grants.clear();
  }

  #end(a: Approval, status: Exclude<ApprovalStatus, "pending">, reviewer?: string, comment?: string): void {
    this.#pending.delete(a.id);
    if (this.#byHash.get(a.sha256) === a.id) this.#byHash.delete(a.sha256);
    a.status = status;
    a.decided_at = new Date().toISOString();
    if (reviewer) a.reviewer = reviewer;
    if (comment) a.comment = comment;
    this.#history.unshift(a);
    if (this.#history.length > this.historySize) this.#history.pop();
  }
}
