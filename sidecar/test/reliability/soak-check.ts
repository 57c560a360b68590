// What the write soak must find after a run: the checks shared by the short test and make soak.
import type { SoakResult } from "./soak-run.js";

/** Every way the database and pgbench's view disagree; empty when they reconcile exactly. */
export function reconcile(r: SoakResult): string[] {
  const problems: string[] = [];
  if (r.transactions <= 0) problems.push("pgbench committed nothing");
  if (r.failed !== 0) problems.push(`${r.failed} transactions failed`);
  const { accounts, tellers, branches, history } = r.sums;
  if (!(accounts === tellers && tellers === branches && branches === history)) {
    problems.push(`balances disagree: accounts ${accounts}, tellers ${tellers}, branches ${branches}, history deltas ${history}`);
  }
  if (r.history_rows !== r.transactions) problems.push(`history has ${r.history_rows} rows, pgbench counted ${r.transactions} transactions`);
  for (const m of r.client_mismatches) problems.push(`client ${m.client}: pgbench logged ${m.logged} transactions, history holds ${m.in_db}`);
  if (r.regate_errors.length) problems.push(`regate logged errors:\n${r.regate_errors.join("\n")}`);
  return problems;
}

/** RSS at the end minus RSS after warm-up (a third into the run), MB. */
export function rssGrowth(r: SoakResult): number {
  return Math.round((r.rss_mb.end - r.rss_mb.after_warmup) * 10) / 10;
}
