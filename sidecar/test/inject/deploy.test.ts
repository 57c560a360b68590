import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { PORTS, SIDECAR } from "../../src/inject/index.js";
import { packageRoot } from "../../src/paths.js";
import { kubernetesProblems, type Labelled } from "./k8s-schema.js";
import { parseDocs, podSpecOf, type Obj } from "./support.js";

const DIR = join(packageRoot, "deploy", "kubernetes");
const BUNDLE = join(packageRoot, "build", "bundle.tar.gz");
const manifests = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
const objects: Labelled[] = manifests.flatMap((f) => parseDocs(readFileSync(join(DIR, f), "utf8")).map((obj, i) => ({ label: `${f} document ${i + 1}`, obj })));
const find = (kind: string): Obj => {
  const found = objects.filter((o) => o.obj["kind"] === kind);
  expect(found.length, kind).toBe(1);
  return found[0]!.obj as Obj;
};

/** What `kubectl create configmap regate-policy --from-file=bundle.tar.gz=build/bundle.tar.gz` makes. */
const policyConfigMap = (): Obj => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "regate-policy" },
  binaryData: { "bundle.tar.gz": readFileSync(BUNDLE).toString("base64") },
});

describe("deploy/kubernetes", () => {
  const deployment = find("Deployment");
  const configMap = find("ConfigMap");
  const secret = find("Secret");
  const secretEnv = secret["stringData"] as Record<string, string>;
  const regateYaml = configMap["data"]["regate.yaml"] as string;
  const pod = podSpecOf(deployment);
  const sidecar = pod["initContainers"][0];
  const agent = pod["containers"].find((c: Obj) => c["name"] === "agent");

  it("holds the Deployment, the ConfigMap and the Secret, and they validate against the Kubernetes schema", { timeout: 90_000 }, () => {
    expect(manifests.sort()).toEqual(["agent-deployment.yaml", "configmap.yaml", "secret.yaml"]);
    expect(kubernetesProblems([...objects, { label: "regate-policy (kubectl create configmap)", obj: policyConfigMap() }])).toEqual([]);
  });

  it("the bundle fits in a ConfigMap (1 MiB, with room to grow)", () => {
    expect(statSync(BUNDLE).size).toBeLessThan(512 * 1024);
  });

  it("carries regate as a native sidecar: first init container, restartPolicy Always, probes on the admin port", () => {
    expect(sidecar).toMatchObject({ name: SIDECAR.container, restartPolicy: "Always", args: ["run", "--config", SIDECAR.configFile] });
    expect(sidecar.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(sidecar.ports).toEqual([{ name: SIDECAR.adminPortName, containerPort: PORTS.admin, protocol: "TCP" }]);
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) expect(sidecar[probe].httpGet.port).toBe(SIDECAR.adminPortName);
    expect(sidecar.resources.requests).toBeDefined();
  });

  it("regate.yaml in the ConfigMap is a valid config, with every secret from the Secret", () => {
    const config = loadConfig({ text: regateYaml, env: secretEnv });
    expect(config.postgres.upstream.password?.reveal()).toBe(secretEnv["UPSTREAM_DB_PASSWORD"]);
    // Every { env: NAME } in the config is a key of the Secret, and no key is taken for a REGATE_ override.
    const refs = [...regateYaml.matchAll(/\{\s*env:\s*([A-Z0-9_]+)\s*\}/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(Object.keys(secretEnv)).toContain(ref);
    for (const key of Object.keys(secretEnv)) expect(key.startsWith("REGATE_"), key).toBe(false);
    expect(sidecar.envFrom).toEqual([{ secretRef: { name: secret["metadata"].name } }]);
  });

  it("listens on loopback for the agent and on the pod IP for probes, on the ports the manifests use", () => {
    const config = loadConfig({ text: regateYaml, env: secretEnv });
    expect(config.postgres.listen).toEqual({ host: "127.0.0.1", port: PORTS.postgres });
    expect(config.http.listen).toEqual({ host: "127.0.0.1", port: PORTS.http });
    expect(config.admin.listen).toEqual({ host: "0.0.0.0", port: PORTS.admin });
    expect(dirname(config.policy.bundle)).toBe(SIDECAR.policyDir);
    const mounts = Object.fromEntries(sidecar.volumeMounts.map((m: Obj) => [m["name"], m["mountPath"]]));
    expect(mounts).toEqual({ [SIDECAR.configVolume]: SIDECAR.configDir, [SIDECAR.policyVolume]: SIDECAR.policyDir });
    const volumes = Object.fromEntries(pod["volumes"].map((v: Obj) => [v["name"], v["configMap"]?.name]));
    expect(volumes[SIDECAR.configVolume]).toBe(configMap["metadata"].name);
    expect(volumes[SIDECAR.policyVolume]).toBe(policyConfigMap()["metadata"].name);
  });

  it("gives the agent its own token and nothing else from the Secret", () => {
    const env = Object.fromEntries(agent.env.map((e: Obj) => [e["name"], e["value"] ?? e["valueFrom"]]));
    expect(agent.envFrom).toBeUndefined();
    const fromSecret = agent.env.filter((e: Obj) => e["valueFrom"]?.secretKeyRef).map((e: Obj) => e["valueFrom"].secretKeyRef.key);
    expect(new Set(fromSecret)).toEqual(new Set(["AGENT_TOKEN"]));
    expect(env).toMatchObject({ PGHOST: "127.0.0.1", PGPORT: String(PORTS.postgres), ORDERS_API_URL: `http://127.0.0.1:${PORTS.http}/api` });
    const config = loadConfig({ text: regateYaml, env: secretEnv });
    expect(config.agents.tokens.map((t) => t.subject)).toContain(env["PGUSER"]);
  });
});
