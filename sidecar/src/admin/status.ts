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

/** OK once every bundle is active and the last attempt went well; WARN when it failed but a bundle still serves. */
export function bundlePluginState(bundles: BundleStatus[]): PluginState {
  if (bundles.some((b) => !b.active_revision)) return bundles.some((b) => b.code) ? "ERROR" : "NOT_READY";
  return bundles.some((b) => b.code) ? "WARN" : "OK";
}
