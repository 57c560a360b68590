import { parseAllDocuments } from "yaml";
import { SIDECAR } from "../../src/inject/index.js";

export type Obj = Record<string, any>;

/** Every non-empty document, read as Kubernetes reads YAML: 1.1 scalars, timestamps left as strings. */
export const parseDocs = (text: string): Obj[] =>
  parseAllDocuments(text, { version: "1.1", customTags: (tags) => tags.filter((t) => typeof t === "string" || t.tag !== "tag:yaml.org,2002:timestamp") }).flatMap(
    (d) => (d.contents === null ? [] : [d.toJS() as Obj]),
  );

const templateOf = (o: Obj): Obj => (o["kind"] === "Pod" ? o : o["kind"] === "CronJob" ? o["spec"].jobTemplate.spec.template : o["spec"].template);
export const podSpecOf = (o: Obj): Obj => templateOf(o)["spec"];
export const podMetaOf = (o: Obj): Obj | undefined => templateOf(o)["metadata"];

/** A workload with everything `regate inject` adds taken out again. */
export function stripSidecar(workload: Obj): Obj {
  const copy = structuredClone(workload);
  const spec = podSpecOf(copy);
  spec["initContainers"] = (spec["initContainers"] ?? []).filter((c: Obj) => c["name"] !== SIDECAR.container);
  if (spec["initContainers"].length === 0) delete spec["initContainers"];
  spec["volumes"] = (spec["volumes"] ?? []).filter((v: Obj) => v["name"] !== SIDECAR.configVolume && v["name"] !== SIDECAR.policyVolume);
  if (spec["volumes"].length === 0) delete spec["volumes"];
  const meta = podMetaOf(copy);
  if (meta?.["annotations"]) {
    delete meta["annotations"][SIDECAR.annotation];
    if (Object.keys(meta["annotations"]).length === 0) delete meta["annotations"];
  }
  return copy;
}
