import type { Decision } from "../decision/index.js";
import type { ApprovalMode } from "./types.js";

/** What the service falls back to when the policy's approve leaves a term out (config: approvals.*). */
export interface TermDefaults {
  timeoutSeconds: number;
  holdMaxSeconds: number;
  grantSeconds: number;
}

/** The terms of one approval: the policy's `approve` object, with config filling the gaps. */
export interface Terms {
  mode: ApprovalMode;
  /** How long the approval stays pending. */
  timeoutSeconds: number;
  /** How long the client is held (hold mode); never above the config's maximum. */
  holdSeconds: number;
  grantSeconds: number;
  groups: string[];
  min: number;
  reasonRequired: boolean;
  approvers: string;
}

const positive = (v: number | undefined): v is number => typeof v === "number" && Number.isFinite(v) && v > 0;

export function termsOf(decision: Decision, defaults: TermDefaults): Terms {
  const a = decision.approve;
  const groups = (Array.isArray(a?.approvers) ? a.approvers : a?.approvers ? [a.approvers] : []).filter((g) => g.length > 0);
  const timeoutSeconds = positive(a?.timeout_seconds) ? a.timeout_seconds : defaults.timeoutSeconds;
  // The policy may only lower the hold: a long hold pins a client connection (and an open transaction).
  const policyHold = typeof a?.hold_max_seconds === "number" && a.hold_max_seconds >= 0 ? a.hold_max_seconds : defaults.holdMaxSeconds;
  return {
    mode: a?.mode === "defer" ? "defer" : "hold",
    timeoutSeconds,
    holdSeconds: Math.min(policyHold, defaults.holdMaxSeconds, timeoutSeconds),
    grantSeconds: positive(a?.grant_seconds) ? a.grant_seconds : defaults.grantSeconds,
    groups,
    min: Number.isInteger(a?.min) && a!.min! > 1 ? a!.min! : 1,
    reasonRequired: a?.reason_required === true,
    approvers: groups.join(", "),
  };
}
