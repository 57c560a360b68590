import { InjectError } from "./errors.js";
import { PORTS, SIDECAR, type InjectOptions } from "./options.js";
import { sidecarContainer, sidecarVolumes, type Json, type JsonObject } from "./sidecar.js";
import { isObject } from "./workloads.js";

export type TemplateResult = { status: "injected" | "already-injected"; warnings: string[] };

const namedList = (v: Json | undefined): JsonObject[] => (Array.isArray(v) ? v.filter(isObject) : []);

/** Already carries regate: the annotation, or a container of that name (added by hand, say). */
export function isInjected(template: JsonObject): boolean {
  const meta = isObject(template["metadata"]) ? template["metadata"] : {};
  const annotations = isObject(meta["annotations"]) ? meta["annotations"] : {};
  if (annotations[SIDECAR.annotation] === "true") return true;
  const spec = isObject(template["spec"]) ? template["spec"] : {};
  return [...namedList(spec["initContainers"]), ...namedList(spec["containers"])].some((c) => c["name"] === SIDECAR.container);
}

/**
 * Adds the regate sidecar to a pod template ({metadata, spec}) in place: first init container, its two
 * volumes, the injected annotation. `where` names the object and path for messages.
 */
export function injectTemplate(template: JsonObject, o: InjectOptions, where: string): TemplateResult {
  const spec = template["spec"];
  if (!isObject(spec) || !Array.isArray(spec["containers"])) throw new InjectError(`${where}: has no pod spec with containers`);
  if (isInjected(template)) return { status: "already-injected", warnings: [] };

  const volumes = spec["volumes"] ?? [];
  const initContainers = spec["initContainers"] ?? [];
  if (!Array.isArray(volumes)) throw new InjectError(`${where}: spec.volumes is not a list`);
  if (!Array.isArray(initContainers)) throw new InjectError(`${where}: spec.initContainers is not a list`);
  const ours = sidecarVolumes(o);
  for (const v of namedList(volumes)) {
    if (ours.some((mine) => mine["name"] === v["name"])) {
      throw new InjectError(`${where}: already has a volume named ${String(v["name"])}, which the regate sidecar needs`);
    }
  }

  setKey(spec, "initContainers", [sidecarContainer(o), ...initContainers], "containers");
  spec["volumes"] = [...volumes, ...ours];
  const meta = isObject(template["metadata"]) ? template["metadata"] : setKey<JsonObject>(template, "metadata", {}, "spec");
  const annotations = isObject(meta["annotations"]) ? meta["annotations"] : setKey<JsonObject>(meta, "annotations", {});
  annotations[SIDECAR.annotation] = "true";
  return { status: "injected", warnings: clashes(spec, where) };
}

/**
 * Sets obj[key]; a new key goes just before `before` (initContainers before containers, metadata before
 * spec) so the output reads the way people write manifests. Returns the value.
 */
function setKey<T extends Json>(obj: JsonObject, key: string, value: T, before?: string): T {
  if (key in obj || before === undefined || !(before in obj)) {
    obj[key] = value;
    return value;
  }
  const entries = Object.entries(obj);
  for (const [k] of entries) delete obj[k];
  for (const [k, v] of entries) {
    if (k === before) obj[key] = value;
    obj[k] = v;
  }
  return value;
}

/** Things that break the sidecar at run time, not at apply time: worth a warning, not a refusal. */
function clashes(spec: JsonObject, where: string): string[] {
  const warnings: string[] = [];
  const taken = new Map<number, string>([
    [PORTS.postgres, "which regate's postgres listener uses by default; set postgres.listen.port in regate.yaml to another port"],
    [PORTS.http, "which regate's http listener uses by default; set http.listen.port in regate.yaml to another port"],
    [PORTS.admin, "which the regate sidecar's probes use; move that container to another port"],
  ]);
  const apps = [...namedList(spec["containers"]), ...namedList(spec["initContainers"]).filter((c) => c["name"] !== SIDECAR.container)];
  for (const c of apps) {
    for (const p of namedList(c["ports"])) {
      const why = typeof p["containerPort"] === "number" ? taken.get(p["containerPort"]) : undefined;
      if (why) warnings.push(`${where}: container ${String(c["name"])} declares port ${String(p["containerPort"])}, ${why}`);
    }
  }
  if (spec["hostNetwork"] === true) {
    warnings.push(`${where}: hostNetwork is true: regate's loopback listeners would be shared with every host-network pod on the node`);
  }
  return warnings;
}
