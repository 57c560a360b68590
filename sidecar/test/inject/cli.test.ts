import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { injectCommand } from "../../src/cli/inject.js";
import { packageVersion } from "../../src/inject/index.js";
import { packageRoot } from "../../src/paths.js";
import { kubernetesProblems, objectsOf } from "./k8s-schema.js";
import { parseDocs, podSpecOf, stripSidecar } from "./support.js";
import { stringify } from "yaml";
import { regateArgv } from "../support/compiled-regate.js";

const EXAMPLE = "deploy/kubernetes/agent-deployment.yaml";

/** The CLI from a checkout, its own process (support/compiled-regate.ts). */
function regate(args: string[], stdin?: string) {
  const r = spawnSync(process.execPath, regateArgv(...args), { cwd: packageRoot, input: stdin ?? "", encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\n$/, "") };
}

// Each case starts a regate process (seconds on two busy cores) and the schema check builds a TypeScript program.
describe("regate inject (CLI, end to end)", { timeout: 120_000 }, () => {
  it("-f the example Deployment: unchanged, valid, exit 0", () => {
    const r = regate(["inject", "-f", EXAMPLE]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // Byte for byte the file that deploy.test.ts validates against the Kubernetes schema.
    expect(r.stdout).toBe(readFileSync(join(packageRoot, EXAMPLE), "utf8"));
  });

  it("stdin: the example without its sidecar, plus a Service, gets the sidecar with the default image", () => {
    const plain = stripSidecar(parseDocs(readFileSync(join(packageRoot, EXAMPLE), "utf8"))[0]!);
    const service = "apiVersion: v1\nkind: Service\nmetadata: {name: agent}\nspec: {ports: [{port: 80}]}\n";
    const r = regate(["inject"], `${stringify(plain)}---\n${service}`);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const docs = parseDocs(r.stdout);
    expect(docs.map((d) => d["kind"])).toEqual(["Deployment", "Service"]);
    expect(podSpecOf(docs[0]!)["initContainers"][0]).toMatchObject({ name: "regate", image: `ghcr.io/regate/regate:${packageVersion()}`, restartPolicy: "Always" });
    expect(r.stdout.endsWith(`---\n${service}`)).toBe(true);
    expect(kubernetesProblems(docs.flatMap((o, i) => objectsOf(`stdout document ${i + 1}`, o)))).toEqual([]);
  });

  it("options reach the output", () => {
    const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b}]}\n";
    const r = regate(["inject", "-f", "-", "--image", "example.com/regate:9", "--config-map", "cfg", "--policy-config-map", "pol", "--secret", "sec"], pod);
    expect(r.code).toBe(0);
    const spec = podSpecOf(parseDocs(r.stdout)[0]!);
    expect(spec["initContainers"][0].image).toBe("example.com/regate:9");
    expect(spec["initContainers"][0].envFrom).toEqual([{ secretRef: { name: "sec" } }]);
    expect(spec["volumes"].map((v: Record<string, any>) => v["configMap"].name)).toEqual(["cfg", "pol"]);
  });

  it("exit 1 with a clear error on unparseable YAML, nothing on stdout", () => {
    const r = regate(["inject"], "kind: Pod\nspec: {containers: [\n");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^regate inject: not valid YAML:\n {2}stdin: document 1: .+ at line \d+, column \d+$/m);
  });

  it("warns on stderr, not stdout, when nothing is injectable", () => {
    const r = regate(["inject"], "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n");
    expect(r.stderr).toBe("regate inject: warning: no workload found; the manifest is unchanged");
  });
});

/** The argument errors need no stdin: run them in process, which is quicker than a process each. */
describe("regate inject (CLI, argument errors)", () => {
  async function run(argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (out.push(String(chunk)), true));
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (err.push(String(chunk)), true));
    try {
      return { code: await injectCommand(argv, {}), stdout: out.join(""), stderr: err.join("") };
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  }

  it.each([
    ["a missing file", ["-f", "no/such/file.yaml"], /^regate inject: cannot read no\/such\/file\.yaml: ENOENT$/m],
    ["an unknown option", ["--nope"], /^regate inject: Unknown option '--nope'/],
    ["a bad Secret name", ["--secret", "Not_A_Name", "-f", EXAMPLE], /^regate inject: --secret "Not_A_Name": not a valid Kubernetes object name$/m],
    ["a bad ConfigMap name", ["--config-map=My.Map", "-f", EXAMPLE], /--config-map "My.Map": not a valid Kubernetes object name/],
  ])("exit 1 with a clear error on %s, nothing on stdout", async (_name, argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
  });

  it("--help prints the usage with the default image", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`--image IMAGE                the regate image (default ghcr.io/regate/regate:${packageVersion()})`);
  });
});
