import { availableParallelism } from "node:os";
import type { Config } from "./types.js";

/** How many worker processes `workers` asks for: "auto" is one per core this process may use. */
export function workerCount(cfg: Pick<Config, "workers">): number {
  return cfg.workers === "auto" ? Math.min(64, availableParallelism()) : cfg.workers;
}

/**
 * What cannot be made correct across worker processes yet is refused here, at start, rather than
 * running silently wrong (docs/workers.md): each worker would keep its own copy of state that must be one.
 */
export function workerProblems(cfg: Config): string[] {
  const n = workerCount(cfg);
  if (n <= 1) return [];
  const problems: string[] = [];
  const why = `workers: ${n} (${cfg.workers === "auto" ? "auto, " : ""}more than one process)`;
  if (cfg.approvals.enabled && cfg.approvals.store === "memory") {
    problems.push(`approvals.store: memory cannot be shared by ${why}: a request held in one worker could not be approved from another; use approvals.store: postgres with workers > 1, or workers: 1`);
  }
  if (cfg.approvals.enabled && cfg.approvals.review_url === undefined && cfg.admin.enabled && cfg.admin.listen.port === 0) {
    // Only worker 0 binds the admin listener; the others could not name its port in the default review URL.
    problems.push(
      `admin.listen.port: 0 leaves approvals without a review URL on every worker but worker 0 with ${why}: only worker 0 binds the admin listener, so the notice an agent held on another worker gets, and its chat message, would name port 0; set admin.listen.port to a fixed port, or set approvals.review_url`,
    );
  }
  if (cfg.recording.enabled) {
    problems.push(`recording.enabled: each worker would append to the same hash-chained journal in ${cfg.recording.dir} and break its chain; with ${why} turn recording off, or use workers: 1`);
  }
  if (cfg.export.ocsf.enabled && cfg.export.ocsf.sink === "file") {
    problems.push(`export.ocsf.sink: file would be appended by every worker at once with ${why}; use sink stdout (the primary forwards whole lines), https or splunk_hec, or workers: 1`);
  }
  return problems;
}
