import type { ActError, Approval } from "./types.js";

/** Who acts on an approval: the reviewer's configured name and groups. */
export interface ReviewerIdentity {
  name: string;
  groups: readonly string[];
}

/**
 * May this reviewer vote on (approve or refuse) this approval? The requester and any agent identity never
 * vote: approvals are a human's check on an agent. When the policy names groups, only their members vote.
 */
export function mayVote(a: Approval, r: ReviewerIdentity, agents: ReadonlySet<string>): ActError | undefined {
  if (r.name === a.principal || agents.has(r.name)) return "self_approval";
  if (a.groups.length > 0 && !r.groups.some((g) => a.groups.includes(g))) return "not_an_approver";
  return undefined;
}

/** A reviewer named by a string (e.g. a chat integration's mapping) gets the groups configured for that name. */
export function reviewerIdentity(r: string | ReviewerIdentity, reviewers: readonly ReviewerIdentity[] | undefined): ReviewerIdentity {
  return typeof r === "string" ? { name: r, groups: reviewers?.find((x) => x.name === r)?.groups ?? [] } : r;
}
