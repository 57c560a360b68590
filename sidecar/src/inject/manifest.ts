import { Document, isNode, parseAllDocuments, type DocumentOptions, type ParseOptions, type SchemaOptions, type ToStringOptions } from "yaml";
import { InjectError } from "./errors.js";
import type { InjectOptions } from "./options.js";
import { injectTemplate } from "./pod-template.js";
import type { Json, JsonObject } from "./sidecar.js";
import { classify, describeObject, isObject, objectAt } from "./workloads.js";
import { yamlProblem } from "../yaml-problem.js";

export interface ObjectReport {
  object: string;
  status: "injected" | "already-injected";
}

export interface InjectOutput {
  /** The manifest with the sidecar added: changed documents re-serialized, all others byte for byte. */
  text: string;
  objects: ObjectReport[];
  warnings: string[];
}

/*
 * YAML 1.1, as Kubernetes reads manifests (sigs.k8s.io/yaml): `0644` is an octal int, `yes`/`on` are
 * booleans, so re-serializing keeps their meaning and quotes the strings "yes" and "0644". Timestamps
 * stay strings, as they do in Kubernetes objects.
 */
const YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: "1.1",
  customTags: (tags) => tags.filter((t) => typeof t === "string" || t.tag !== "tag:yaml.org,2002:timestamp"),
};
const TO_STRING: ToStringOptions = { lineWidth: 0 };

/**
 * Adds the regate sidecar to every workload in a multi-document manifest. Documents that change are
 * re-serialized (the comments inside them are lost); every other document is copied through byte for byte.
 * Throws InjectError on YAML that does not parse or a workload that cannot take the sidecar.
 */
export function injectManifest(source: string, o: InjectOptions, sourceName = "manifest"): InjectOutput {
  const docs = parseAllDocuments(source, YAML_OPTIONS);
  if (!Array.isArray(docs)) return { text: source, objects: [], warnings: [] }; // an empty stream
  const problems = docs.flatMap((d, i) => d.errors.map((e) => `${sourceName}: document ${i + 1}: ${yamlProblem(e.message)}`));
  if (problems.length) throw new InjectError(`not valid YAML:\n  ${problems.join("\n  ")}`);

  const objects: ObjectReport[] = [];
  const warnings: string[] = [];
  let text = "";
  let end = 0;
  docs.forEach((doc, i) => {
    const original = source.slice(end, doc.range[2]);
    end = doc.range[2];
    const value = doc.toJS({ maxAliasCount: 1000 }) as Json | undefined;
    const where = `${sourceName}: document ${i + 1}`;
    const changed = isObject(value) && injectObject(value, o, where, objects, warnings);
    if (!changed) {
      text += original;
      return;
    }
    const out = new Document(value, YAML_OPTIONS);
    // The comments above the document survive; those inside it do not.
    out.commentBefore = doc.commentBefore;
    if (isNode(doc.contents) && isNode(out.contents)) out.contents.commentBefore = doc.contents.commentBefore;
    const marker = i > 0 ? "---\n" : "";
    text += `${text && !text.endsWith("\n") ? "\n" : ""}${marker}${out.toString(TO_STRING)}`;
  });
  text += source.slice(end);
  return { text, objects, warnings };
}

/** Injects every workload in `obj` (a `kind: List` holds several); true when something changed. */
function injectObject(obj: JsonObject, o: InjectOptions, where: string, objects: ObjectReport[], warnings: string[]): boolean {
  if (obj["kind"] === "List" && Array.isArray(obj["items"])) {
    let changed = false;
    obj["items"].forEach((item, j) => {
      if (isObject(item) && injectObject(item, o, `${where}, item ${j + 1}`, objects, warnings)) changed = true;
    });
    return changed;
  }
  const workload = classify(obj);
  if (workload.kind === "unsupported-version") {
    warnings.push(`${where}: ${describeObject(obj)}: apiVersion ${workload.apiVersion} is not supported; left as is`);
    return false;
  }
  if (workload.kind === "other") return false;
  const label = `${where}: ${describeObject(obj)}`;
  const template = objectAt(obj, workload.templatePath);
  if (!template) throw new InjectError(`${label}: has no pod template at ${workload.templatePath.join(".")}`);
  const result = injectTemplate(template, o, label);
  objects.push({ object: describeObject(obj), status: result.status });
  warnings.push(...result.warnings);
  return result.status === "injected";
}

