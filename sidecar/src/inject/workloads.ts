import type { Json, JsonObject } from "./sidecar.js";

/**
 * Where each workload keeps its pod template ({metadata, spec}); [] is the object itself (a Pod).
 * Keyed by apiVersion/kind: a CRD that happens to be called Job is not a batch Job.
 */
const TEMPLATE_PATHS: Record<string, readonly string[]> = {
  "v1/Pod": [],
  "apps/v1/Deployment": ["spec", "template"],
  "apps/v1/StatefulSet": ["spec", "template"],
  "apps/v1/DaemonSet": ["spec", "template"],
  "apps/v1/ReplicaSet": ["spec", "template"],
  "batch/v1/Job": ["spec", "template"],
  "batch/v1/CronJob": ["spec", "jobTemplate", "spec", "template"],
};

const KINDS = new Set(Object.keys(TEMPLATE_PATHS).map((k) => k.slice(k.lastIndexOf("/") + 1)));

export function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** "Deployment/agent" (with the namespace when there is one), for messages. */
export function describeObject(obj: JsonObject): string {
  const meta = isObject(obj["metadata"]) ? obj["metadata"] : {};
  const name = typeof meta["name"] === "string" ? meta["name"] : typeof meta["generateName"] === "string" ? `${meta["generateName"]}*` : "(unnamed)";
  const ns = typeof meta["namespace"] === "string" ? `${meta["namespace"]}/` : "";
  return `${typeof obj["kind"] === "string" ? obj["kind"] : "(no kind)"}/${ns}${name}`;
}

export type Workload =
  | { kind: "workload"; templatePath: readonly string[] }
  /** A known kind under an apiVersion this injector does not know (extensions/v1beta1 and the like). */
  | { kind: "unsupported-version"; apiVersion: string }
  | { kind: "other" };

export function classify(obj: JsonObject): Workload {
  const { apiVersion, kind } = obj;
  if (typeof kind !== "string" || typeof apiVersion !== "string") return { kind: "other" };
  const templatePath = TEMPLATE_PATHS[`${apiVersion}/${kind}`];
  if (templatePath) return { kind: "workload", templatePath };
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
  if (KINDS.has(kind) && ["", "apps", "batch", "extensions"].includes(group)) return { kind: "unsupported-version", apiVersion };
  return { kind: "other" };
}

/** Follows `path` down from `obj`; undefined when a step is missing or not an object. */
export function objectAt(obj: JsonObject, path: readonly string[]): JsonObject | undefined {
  let node: Json | undefined = obj;
  for (const key of path) {
    if (!isObject(node)) return undefined;
    node = node[key];
  }
  return isObject(node) ? node : undefined;
}
