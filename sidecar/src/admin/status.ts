import { randomUUID } from "node:crypto";
import type { BundleStatus, PluginState } from "../policy/index.js";

/** GET /status: the shape of OPA's status API, so tools that read OPA's status read regate's. */
export interface StatusReport {
  labels: Record<string, string>;
  bundles: Record<string, BundleStatus>;
  plugins: Record<string, { state: PluginState; message?: string }>;
}

export interface StatusSources {
  labels?: Record<string, string>;
  bundles: () => BundleStatus[];
  /** Other plugins' states (decision-log upload, exporters) by name. */
  plugins?: () => Record<string, { state: PluginState; message?: string }>;
}

/** One id per process, as OPA's `labels.id`. */
const INSTANCE_ID = randomUUID();

export function statusReport(src: StatusSources): StatusReport {
  const bundles = src.bundles();
  return {
    labels: { id: INSTANCE_ID, app: "regate", ...src.labels },
    bundles: Object.fromEntries(bundles.map((b) => [b.name, b])),
    plugins: { bundle: { state: bundlePluginState(bundles) }, ...src.plugins?.() },
  };
}

/**
 * /status for a caller without a token: whether each bundle is active and each plugin's state, which a
 * monitor needs, and the active revision (also in /metrics as regate_bundle_info); not sources, times, error
 * messages or labels, which say where things live and what failed how.
 */
export function statesOnly(r: StatusReport): StatusReport {
  return {
    labels: { app: "regate" },
    bundles: Object.fromEntries(Object.entries(r.bundles).map(([name, b]) => [name, { name, ...(b.active_revision ? { active_revision: b.active_revision } : {}), ...(b.code ? { code: b.code } : {}) }])),
    plugins: Object.fromEntries(Object.entries(r.plugins).map(([name, p]) => [name, { state: p.state }])),
  };
}

/** OK once every bundle is active and the last attempt went well; WARN when it failed but a bundle still serves. */
export function bundlePluginState(bundles: BundleStatus[]): PluginState {
  if (bundles.some((b) => !b.active_revision)) return bundles.some((b) => b.code) ? "ERROR" : "NOT_READY";
  return bundles.some((b) => b.code) ? "WARN" : "OK";
}

/** What /status needs from an uploader's counters (decision-log upload, OCSF sinks); structural, so admin imports no exporter. */
export interface UploaderCounts {
  dropped: number;
  buffered: number;
  last_error?: string;
  last_success?: string;
}

/**
 * OPA reports a plugin as OK or not; an uploader that has failed at some point is WARN with its last error and
 * its last success, so a reader can tell a past outage from a present one, and with what it dropped.
 */
export function uploaderPluginStates(stats: Record<string, UploaderCounts>): Record<string, { state: PluginState; message?: string }> {
  return Object.fromEntries(
    Object.entries(stats).map(([name, s]) => {
      const notes = [
        ...(s.last_error ? [`last error: ${s.last_error}`, `last success: ${s.last_success ?? "never"}`] : []),
        ...(s.dropped ? [`${s.dropped} events dropped`] : []),
        ...(s.buffered ? [`${s.buffered} events buffered`] : []),
      ];
      const state: PluginState = s.last_error || s.dropped ? "WARN" : "OK";
      return [name, notes.length ? { state, message: notes.join("; ") } : { state }];
    }),
  );
}
