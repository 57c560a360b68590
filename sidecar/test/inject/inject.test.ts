import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultOptions, InjectError, injectManifest, type InjectOptions } from "../../src/inject/index.js";
import { packageRoot } from "../../src/paths.js";
import { kubernetesProblems, objectsOf, type Labelled } from "./k8s-schema.js";
import { parseDocs, podMetaOf, podSpecOf, stripSidecar, type Obj } from "./support.js";

const OPTIONS: InjectOptions = { ...defaultOptions(), image: "ghcr.io/regate/regate:test" };
const EXAMPLE = join(packageRoot, "deploy", "kubernetes", "agent-deployment.yaml");
const parse = parseDocs;
const injectedIn = (o: Obj) => podSpecOf(o)["initContainers"]?.filter((c: Obj) => c["name"] === "regate").length ?? 0;

const MANIFESTS = {
  pod: `apiVersion: v1
kind: Pod
metadata:
  name: one-shot-agent
  namespace: agents
spec:
  restartPolicy: Never
  containers:
    - name: agent
      image: example/agent:1
      args: ["--task", "summarise"]
`,
  cronjob: `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly-report
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        metadata:
          labels: { app: nightly-report }
        spec:
          restartPolicy: OnFailure
          initContainers:
            - name: migrate
              image: example/migrate:1
          containers:
            - name: report
              image: example/report:1
`,
  job: `apiVersion: batch/v1
kind: Job
metadata: { name: backfill }
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: backfill, image: "example/backfill:1" }]
`,
  statefulset: `apiVersion: apps/v1
kind: StatefulSet
metadata: { name: memory-agent }
spec:
  serviceName: memory-agent
  selector: { matchLabels: { app: memory-agent } }
  template:
    metadata: { labels: { app: memory-agent }, annotations: { team: ml } }
    spec:
      containers: [{ name: agent, image: example/agent:1 }]
      volumes: [{ name: scratch, emptyDir: {} }]
`,
  daemonset: `apiVersion: apps/v1
kind: DaemonSet
metadata: { name: node-agent }
spec:
  selector: { matchLabels: { app: node-agent } }
  template:
    metadata: { labels: { app: node-agent } }
    spec:
      containers: [{ name: agent, image: example/agent:1 }]
`,
  replicaset: `apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: rs-agent }
spec:
  selector: { matchLabels: { app: rs-agent } }
  template:
    metadata: { labels: { app: rs-agent } }
    spec:
      containers: [{ name: agent, image: example/agent:1 }]
`,
  list: `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: { name: agent }
    spec: { selector: { app: agent }, ports: [{ port: 80, targetPort: 8000 }] }
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: agent }
    spec:
      selector: { matchLabels: { app: agent } }
      template:
        metadata: { labels: { app: agent } }
        spec:
          containers: [{ name: agent, image: example/agent:1 }]
`,
};

describe("regate inject", () => {
  const example = readFileSync(EXAMPLE, "utf8");
  const exampleObj = parse(example)[0]!;
  const plainExample = stripSidecar(exampleObj);

  it("adds to the plain example Deployment exactly what deploy/kubernetes/agent-deployment.yaml carries", () => {
    const image = podSpecOf(exampleObj).initContainers[0].image as string;
    expect(image).toMatch(/^ghcr\.io\/regate\/regate:\d+\.\d+\.\d+$/);
    const out = injectManifest(JSON.stringify(plainExample), { ...defaultOptions(), image });
    expect(out.objects).toEqual([{ object: "Deployment/support-agent", status: "injected" }]);
    expect(out.warnings).toEqual([]);
    expect(parse(out.text)).toEqual([exampleObj]);
  });

  it("leaves the example Deployment, already injected, byte for byte as it is", () => {
    const out = injectManifest(example, OPTIONS, EXAMPLE);
    expect(out.text).toBe(example);
    expect(out.objects).toEqual([{ object: "Deployment/support-agent", status: "already-injected" }]);
  });

  it.each(Object.entries(MANIFESTS))("%s: sidecar first among the init containers, volumes, annotation", (_name, manifest) => {
    const out = injectManifest(manifest, OPTIONS);
    const before = parse(manifest)[0]!;
    const after = parse(out.text)[0]!;
    const workloads = objectsOf("doc", after).filter((o) => o.obj["kind"] !== "Service");
    expect(workloads.length).toBe(1);
    const w = workloads[0]!.obj as Obj;
    const original = objectsOf("doc", before).find((o) => o.obj["kind"] === w["kind"])!.obj as Obj;
    const spec = podSpecOf(w);
    expect(spec.initContainers[0]).toMatchObject({ name: "regate", image: OPTIONS.image, restartPolicy: "Always" });
    expect(spec.initContainers.slice(1)).toEqual(podSpecOf(original).initContainers ?? []);
    expect(spec.containers).toEqual(podSpecOf(original).containers);
    expect(spec.volumes.slice(-2)).toEqual([
      { name: "regate-config", configMap: { name: "regate-config" } },
      { name: "regate-policy", configMap: { name: "regate-policy" } },
    ]);
    expect(podMetaOf(w)!.annotations).toEqual({ ...podMetaOf(original)?.annotations, "regate.dev/injected": "true" });
    expect(podMetaOf(w)!.labels).toEqual(podMetaOf(original)?.labels);
  });

  it("every output validates against the Kubernetes schema (one type-check for all)", { timeout: 90_000 }, () => {
    const outputs = Object.entries(MANIFESTS).flatMap(([name, manifest]) => objectsOf(name, parse(injectManifest(manifest, OPTIONS).text)[0]!));
    expect(outputs.length).toBe(Object.keys(MANIFESTS).length + 1); // the List holds a Service too
    expect(kubernetesProblems(outputs)).toEqual([]);
  });

  it("is idempotent: injecting its own output changes nothing", () => {
    for (const manifest of Object.values(MANIFESTS)) {
      const once = injectManifest(manifest, OPTIONS).text;
      const twice = injectManifest(once, OPTIONS);
      expect(twice.text).toBe(once);
      expect(twice.objects.every((o) => o.status === "already-injected")).toBe(true);
    }
  });

  it("treats a container named regate as already injected, annotation or not", () => {
    const manual = MANIFESTS.pod.replace("    - name: agent", "    - name: regate\n      image: example/regate:old\n    - name: agent");
    const out = injectManifest(manual, OPTIONS);
    expect(out.text).toBe(manual);
    expect(out.objects[0]?.status).toBe("already-injected");
  });

  it("passes other documents through untouched and keeps the document boundaries", () => {
    const others = `# the namespace first
apiVersion: v1
kind: Namespace
metadata: {name: agents}   # flow style, odd spacing, comments: all kept
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: flags
data:
  enabled: "yes"
  mode: "0644"
...
`;
    const manifest = `${others}---\n${MANIFESTS.job}---\n${others}`;
    const out = injectManifest(manifest, OPTIONS);
    expect(out.text.startsWith(others)).toBe(true);
    expect(out.text.endsWith(`---\n${others}`)).toBe(true);
    const docs = parse(out.text);
    expect(docs.map((d) => d["kind"])).toEqual(["Namespace", "ConfigMap", "Job", "Namespace", "ConfigMap"]);
    expect(docs[1]).toEqual(parse(others)[1]);
    expect(injectedIn(docs[2]!)).toBe(1);
  });

  it("keeps YAML 1.1 meanings as Kubernetes reads them when it re-serializes a document", () => {
    const manifest = `apiVersion: v1
kind: Pod
metadata: { name: p, annotations: { quoted-yes: "yes", quoted-octal: "0644" } }
spec:
  containers:
    - name: app
      image: example/app:1
      env: [{ name: FLAG, value: "on" }, { name: WHEN, value: 2024-01-02 }]
      volumeMounts: [{ name: cfg, mountPath: /cfg }]
  volumes:
    - name: cfg
      configMap: { name: cfg, defaultMode: 0644 }
`;
    const out = injectManifest(manifest, OPTIONS);
    const pod = parse(out.text)[0]!;
    expect(pod["metadata"].annotations).toMatchObject({ "quoted-yes": "yes", "quoted-octal": "0644" });
    expect(pod["spec"].containers[0].env).toEqual([{ name: "FLAG", value: "on" }, { name: "WHEN", value: "2024-01-02" }]);
    expect(pod["spec"].volumes[0].configMap.defaultMode).toBe(0o644);
    expect(out.text).toContain('value: "on"');
    expect(out.text).toContain('quoted-yes: "yes"');
  });

  it("applies --image, --config-map, --policy-config-map and --secret", () => {
    const options: InjectOptions = { image: "registry.example.com/regate@sha256:" + "a".repeat(64), configMap: "cfg", policyConfigMap: "pol", secret: "sec" };
    const pod = parse(injectManifest(MANIFESTS.pod, options).text)[0]!;
    const sidecar = pod["spec"].initContainers[0];
    expect(sidecar.image).toBe(options.image);
    expect(sidecar.envFrom).toEqual([{ secretRef: { name: "sec" } }]);
    expect(pod["spec"].volumes).toEqual([
      { name: "regate-config", configMap: { name: "cfg" } },
      { name: "regate-policy", configMap: { name: "pol" } },
    ]);
  });

  it("locks the sidecar down: non-root, read-only root, no capabilities, probes on the admin port", () => {
    const sidecar = podSpecOf(parse(injectManifest(MANIFESTS.pod, OPTIONS).text)[0]!).initContainers[0];
    expect(sidecar.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(sidecar.ports).toEqual([{ name: "regate-admin", containerPort: 9187, protocol: "TCP" }]);
    expect(sidecar.startupProbe.httpGet).toEqual({ path: "/healthz", port: "regate-admin" });
    expect(sidecar.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "regate-admin" });
    expect(sidecar.resources.limits.memory).toBeDefined();
  });

  it("warns about ports the sidecar needs and host networking, and still injects", () => {
    const manifest = MANIFESTS.pod.replace('args: ["--task", "summarise"]', "ports: [{ containerPort: 8080 }, { containerPort: 9187 }]").replace("spec:\n", "spec:\n  hostNetwork: true\n");
    const out = injectManifest(manifest, OPTIONS);
    expect(out.objects[0]?.status).toBe("injected");
    expect(out.warnings).toEqual([
      expect.stringMatching(/Pod\/agents\/one-shot-agent: container agent declares port 8080, .*http\.listen\.port/),
      expect.stringMatching(/container agent declares port 9187, which the regate sidecar's probes use/),
      expect.stringMatching(/hostNetwork is true/),
    ]);
  });

  const failures: [string, string, RegExp][] = [
    ["unparseable YAML", "apiVersion: v1\nkind: Pod\nspec: {containers: [\n", /not valid YAML:\n {2}in\.yaml: document 1: .*line \d+, column \d+/],
    ["a tab-indented mapping", "apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n", /not valid YAML/],
    ["a Deployment without a pod template", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}\n", /in\.yaml: document 1: Deployment\/d: has no pod template at spec\.template/],
    ["a Pod without containers", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n", /Pod\/p: has no pod spec with containers/],
    [
      "a volume name clash",
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: b}]\n  volumes: [{name: regate-config, emptyDir: {}}]\n",
      /Pod\/p: already has a volume named regate-config/,
    ],
  ];
  it.each(failures)("refuses %s with a message naming the file, document and object", (_name, manifest, message) => {
    expect(() => injectManifest(manifest, OPTIONS, "in.yaml")).toThrow(InjectError);
    expect(() => injectManifest(manifest, OPTIONS, "in.yaml")).toThrow(message);
  });

  it("leaves unknown kinds, CRDs named like workloads, scalars and empty documents alone", () => {
    const manifest = `apiVersion: batch.volcano.sh/v1alpha1
kind: Job
metadata: {name: not-batch}
spec: {tasks: []}
---
---
just a string
---
apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: ancient}
spec: {template: {spec: {containers: [{name: a, image: b}]}}}
`;
    const out = injectManifest(manifest, OPTIONS);
    expect(out.text).toBe(manifest);
    expect(out.objects).toEqual([]);
    expect(out.warnings).toEqual([expect.stringContaining("Deployment/ancient: apiVersion extensions/v1beta1 is not supported")]);
    expect(injectManifest("", OPTIONS).text).toBe("");
  });
});

describe("the schema check has teeth", () => {
  const pod = (): Obj => parse(injectManifest(MANIFESTS.pod, OPTIONS).text)[0]!;
  const broken: [string, (p: Obj) => unknown, RegExp][] = [
    ["a misspelt field", (p) => (p["spec"].initContainers[0].securityContext.readOnlyRootFileSystem = true), /readOnlyRootFileSystem/],
    ["a field at the wrong level", (p) => (p["spec"].initContainers[0].configMap = { name: "x" }), /configMap.*does not exist in type 'IContainer'/],
    ["a wrong type", (p) => (p["spec"].initContainers[0].ports[0].containerPort = "9187"), /containerPort must be integer/],
    ["a missing required field", (p) => delete p["spec"].containers, /must have required property containers/],
    ["a volume without a name", (p) => delete p["spec"].volumes[0].name, /volumes\/0 must have required property name/],
    ["a bad restartPolicy type", (p) => (p["spec"].initContainers[0].restartPolicy = true), /restartPolicy must be string/],
  ];
  const objects: Labelled[] = [
    { label: "valid", obj: pod() },
    ...broken.map(([label, mutate]) => {
      const p = pod();
      mutate(p);
      return { label, obj: p };
    }),
  ];
  let problems: string[] = [];
  beforeAll(() => {
    problems = kubernetesProblems(objects);
  });

  it("accepts the injected Pod: restartPolicy Always on an init container (native sidecars)", () => {
    expect(problems.filter((p) => p.startsWith("valid"))).toEqual([]);
  });

  it.each(broken)("rejects %s", (label, _mutate, message) => {
    const mine = problems.filter((p) => p.startsWith(`${label}`));
    expect(mine.join("\n")).toMatch(message);
  });
});
