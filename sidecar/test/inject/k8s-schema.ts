// Kubernetes objects checked against the Kubernetes API schema, offline, from the kubernetes-models
// package (models generated from the Kubernetes 1.33 OpenAPI spec, which knows `restartPolicy` on
// init containers). Two checks, because each misses what the other sees:
//  - the package's JSON-schema validators (ajv, compiled from the OpenAPI spec): types, enums, formats,
//    required fields. Like the API server's schema they accept unknown fields.
//  - its TypeScript declarations, generated from the same spec: each object is type-checked as an object
//    literal, so an unknown or misspelt field anywhere is an error, as `kubectl apply` (strict field
//    validation, the default since 1.27) would make it.
import { join } from "node:path";
import ts from "typescript";
import { CronJob, Job } from "kubernetes-models/batch/v1";
import { DaemonSet, Deployment, ReplicaSet, StatefulSet } from "kubernetes-models/apps/v1";
import { ConfigMap, Pod, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { packageRoot } from "../../src/paths.js";

type Obj = Record<string, unknown>;
interface Kind {
  model: new (data: never) => { validate(): void };
  module: string;
  type: string;
}

const KINDS: Record<string, Kind> = {
  "v1/Pod": { model: Pod, module: "kubernetes-models/v1", type: "IPod" },
  "v1/ConfigMap": { model: ConfigMap, module: "kubernetes-models/v1", type: "IConfigMap" },
  "v1/Secret": { model: Secret, module: "kubernetes-models/v1", type: "ISecret" },
  "v1/Service": { model: Service, module: "kubernetes-models/v1", type: "IService" },
  "v1/ServiceAccount": { model: ServiceAccount, module: "kubernetes-models/v1", type: "IServiceAccount" },
  "apps/v1/Deployment": { model: Deployment, module: "kubernetes-models/apps/v1", type: "IDeployment" },
  "apps/v1/StatefulSet": { model: StatefulSet, module: "kubernetes-models/apps/v1", type: "IStatefulSet" },
  "apps/v1/DaemonSet": { model: DaemonSet, module: "kubernetes-models/apps/v1", type: "IDaemonSet" },
  "apps/v1/ReplicaSet": { model: ReplicaSet, module: "kubernetes-models/apps/v1", type: "IReplicaSet" },
  "batch/v1/Job": { model: Job, module: "kubernetes-models/batch/v1", type: "IJob" },
  "batch/v1/CronJob": { model: CronJob, module: "kubernetes-models/batch/v1", type: "ICronJob" },
};

export interface Labelled {
  label: string;
  obj: Obj;
}

/** Flattens `kind: List` documents into their items. */
export function objectsOf(label: string, obj: Obj): Labelled[] {
  if (obj["kind"] === "List" && Array.isArray(obj["items"])) {
    return (obj["items"] as Obj[]).flatMap((item, i) => objectsOf(`${label} item ${i + 1}`, item));
  }
  return [{ label, obj }];
}

function kindOf(o: Labelled): Kind {
  const kind = KINDS[`${String(o.obj["apiVersion"])}/${String(o.obj["kind"])}`];
  if (!kind) throw new Error(`${o.label}: no schema here for ${String(o.obj["apiVersion"])} ${String(o.obj["kind"])}; add it to KINDS`);
  return kind;
}

/** The JSON-schema check; one message per invalid object. */
export function schemaProblems(objects: Labelled[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    try {
      new (kindOf(o).model)(o.obj as never).validate();
    } catch (err) {
      problems.push(`${o.label}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** The unknown-field check: one TypeScript program for all objects (a program takes a few seconds). */
export function strictFieldProblems(objects: Labelled[]): string[] {
  const file = join(packageRoot, "sidecar", "test", "inject", "__k8s_objects__.mts");
  let text = "";
  const starts: number[] = [];
  objects.forEach((o, i) => {
    const kind = kindOf(o);
    starts.push(text.length);
    text += `export const o${i}: import(${JSON.stringify(kind.module)}).${kind.type} = ${JSON.stringify(o.obj, null, 1)};\n`;
  });
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (f) => f === file || fileExists.call(host, f);
  host.readFile = (f) => (f === file ? text : readFile.call(host, f));
  host.getSourceFile = (f, lang, ...rest) => (f === file ? ts.createSourceFile(f, text, lang) : getSourceFile.call(host, f, lang, ...rest));
  const program = ts.createProgram([file], options, host);
  const source = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, source).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (d.file !== source || d.start === undefined) return message;
    const index = starts.findLastIndex((s) => s <= d.start!);
    const { line } = source.getLineAndCharacterOfPosition(d.start);
    return `${objects[index]?.label ?? "?"} (line ${line + 1}: ${text.split("\n")[line]?.trim()}): ${message}`;
  });
}

/** Both checks; [] when every object is valid. */
export function kubernetesProblems(objects: Labelled[]): string[] {
  return [...schemaProblems(objects), ...strictFieldProblems(objects)];
}
