import type { Readable } from "node:stream";
import { DEFAULT_EVAL_TIMEOUT_MS, PolicyStore } from "../policy/index.js";
import { Analysis } from "./analysis.js";
import { readDecisionLogs } from "./read.js";
import type { Report } from "./report.js";

export { Analysis, type AnalysisOptions } from "./analysis.js";
export { formatReport } from "./format.js";
export { readDecisionLogs, parseEvent, type LoggedLine } from "./read.js";
export type { Report, ChangeGroup, Group, Example } from "./report.js";
export { CHANGE_KINDS, type ChangeKind, type Verdict } from "./verdict.js";
export { FAIL_ON_KINDS, parseFailOn, failures, type FailOnKind } from "./fail-on.js";

export interface WhatIfOptions {
  /** Path of the candidate bundle (opa build -t wasm). */
  candidate: string;
  /** Path of the bundle now deployed; without it the logged decisions are the baseline. */
  baseline?: string;
  /** Decision-log files, plain or gzip; "-" reads `stdin`. */
  sources: string[];
  /** Examples kept per group (default 3). */
  examples?: number;
  stdin?: Readable;
  /** Evaluation budget per decision (default DEFAULT_EVAL_TIMEOUT_MS); 0: unbudgeted, on this thread. */
  evalTimeoutMs?: number;
}

/** Replays every logged input against the candidate (and baseline) bundle; throws RegateError for a bad bundle. */
export async function whatIf(opts: WhatIfOptions): Promise<Report> {
  // Budgeted: a candidate that loops on some logged input is reported as POLICY_EVAL_TIMEOUT for it, not waited for.
  const stores: PolicyStore[] = [];
  const load = async (bundle: string) => {
    const store = new PolicyStore(bundle, { evalTimeoutMs: opts.evalTimeoutMs ?? DEFAULT_EVAL_TIMEOUT_MS });
    stores.push(store);
    return { bundle, policy: await store.load() };
  };
  try {
    const analysis = new Analysis({
      candidate: await load(opts.candidate),
      ...(opts.baseline ? { baseline: await load(opts.baseline) } : {}),
      examples: opts.examples ?? 3,
    });
    const stats = { skipped: 0 };
    for await (const line of readDecisionLogs(opts.sources, stats, opts.stdin)) analysis.add(line);
    analysis.skipped(stats.skipped);
    return analysis.report();
  } finally {
    for (const s of stores) s.close();
  }
}
