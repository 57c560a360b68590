import type { Decision, MaskRule, Outcome } from "../decision/index.js";

/**
 * What a decision means to the agent, reduced to what whatif compares: the outcome, the reasons shown,
 * the mask rules applied (none when denied: nothing runs) and the approval asked for.
 */
export interface Verdict {
  outcome: Outcome;
  /** Sorted, without duplicates. */
  reasons: string[];
  /** Mask rules as labels ("column public.customers.email: partial"), sorted; empty for a deny. */
  masks: string[];
  /** "reason / approvers / timeout" when the outcome is approve. */
  approve?: string;
  error_code?: string;
}

export const maskLabel = (m: MaskRule): string => {
  const target = m.column !== undefined ? `column ${m.column}` : m.field !== undefined ? `field ${m.field}` : `detector ${m.detector ?? "?"}`;
  return `${target}: ${m.strategy}`;
};

const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

function verdict(outcome: Outcome, reasons: string[], masks: MaskRule[], approve: Decision["approve"], errorCode: string | undefined): Verdict {
  const v: Verdict = { outcome, reasons: sorted(reasons), masks: outcome === "deny" ? [] : sorted(masks.map(maskLabel)) };
  if (outcome === "approve" && approve) v.approve = `${approve.reason} / ${approve.approvers} / ${approve.timeout_seconds}s`;
  if (errorCode) v.error_code = errorCode;
  return v;
}

/** A decision the pipeline just made. */
export function fromDecision(d: Decision): Verdict {
  return verdict(d.outcome, d.reasons, d.mask, d.approve, d.error_code);
}

/**
 * A decision as regate logged it: `outcome`, `reasons` and `error.code` are the pipeline's; masks and the
 * approval come from the raw `result`. Undefined when the line lacks what regate writes (e.g. OPA's own logs).
 */
export function fromLogged(line: Record<string, unknown>): Verdict | undefined {
  const outcome = line["outcome"];
  if (outcome !== "allow" && outcome !== "deny" && outcome !== "approve") return undefined;
  const reasons = Array.isArray(line["reasons"]) ? line["reasons"].filter((r): r is string => typeof r === "string") : [];
  const result = (line["result"] && typeof line["result"] === "object" ? line["result"] : {}) as { mask?: unknown; approve?: Decision["approve"] };
  const masks = Array.isArray(result.mask) ? (result.mask as MaskRule[]) : [];
  const error = line["error"] as { code?: unknown } | undefined;
  return verdict(outcome, reasons, masks, result.approve, typeof error?.code === "string" ? error.code : undefined);
}

export function sameVerdict(a: Verdict, b: Verdict): boolean {
  return (
    a.outcome === b.outcome &&
    a.approve === b.approve &&
    a.error_code === b.error_code &&
    a.reasons.join("\n") === b.reasons.join("\n") &&
    a.masks.join("\n") === b.masks.join("\n")
  );
}

/** Every kind of change whatif reports; `--fail-on` takes these names. */
export const CHANGE_KINDS = [
  "allow-to-deny",
  "allow-to-approve",
  "approve-to-deny",
  "deny-to-allow",
  "deny-to-approve",
  "approve-to-allow",
  "mask-added",
  "mask-removed",
  "mask-changed",
  "approval-changed",
  "reasons-changed",
] as const;

export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface Change {
  kind: ChangeKind;
  /** What differs: "+ x" is new in the candidate, "- x" is gone from it (reasons, approvals, mask rules). */
  reasons: string[];
}

/** Undefined when the two verdicts mean the same to the agent. */
export function compare(from: Verdict, to: Verdict): Change | undefined {
  if (sameVerdict(from, to)) return undefined;
  // A deny runs nothing, so its masks say nothing: mask rules are compared only between allow and approve.
  const masksMatter = from.outcome !== "deny" && to.outcome !== "deny";
  const reasons = [...delta("", from.reasons, to.reasons), ...(masksMatter ? delta("mask ", from.masks, to.masks) : [])];
  if (from.outcome !== to.outcome) return { kind: `${from.outcome}-to-${to.outcome}` as ChangeKind, reasons };
  if (masksMatter) {
    const added = to.masks.some((m) => !from.masks.includes(m));
    const removed = from.masks.some((m) => !to.masks.includes(m));
    if (added || removed) return { kind: added && removed ? "mask-changed" : added ? "mask-added" : "mask-removed", reasons };
    if (from.approve !== to.approve) return { kind: "approval-changed", reasons: [...delta("approval ", [from.approve ?? ""], [to.approve ?? ""])] };
  }
  // Same outcome, same masks: the reasons (or the error code behind them) differ.
  return reasons.length ? { kind: "reasons-changed", reasons } : undefined;
}

function delta(prefix: string, from: string[], to: string[]): string[] {
  return [...to.filter((x) => !from.includes(x)).map((x) => `+ ${prefix}${x}`), ...from.filter((x) => !to.includes(x)).map((x) => `- ${prefix}${x}`)];
}
