import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { packageRoot } from "../../src/paths.js";
import { BundleDownloader, PolicyStore } from "../../src/policy/index.js";
import { BundleServer, RESOURCE } from "./bundle-server.js";
import { makeKeys } from "./opa.js";

const WORKFLOW = join(packageRoot, "docs", "examples", "policy-repo-ci.yml");
const FIXTURE = join(import.meta.dirname, "ci-fixture");

interface Step {
  name?: string;
  uses?: string;
  with?: Record<string, unknown>;
  if?: string;
  env?: Record<string, string>;
  run?: string;
}
const workflow = parse(readFileSync(WORKFLOW, "utf8")) as { env: Record<string, string>; jobs: { bundle: { steps: Step[] } } };
const steps = workflow.jobs.bundle.steps;

describe("docs/examples/policy-repo-ci.yml", () => {
  const keys = makeKeys();
  let files: Server;
  let filesUrl: string;
  const bundles = new BundleServer({ uploadToken: "upload-token" });
  let bundlesUrl: string;

  beforeAll(async () => {
    // regate's schema and capabilities, served as a release would serve them.
    files = createServer((req, res) => {
      const m = /^\/(schemas\/input\.schema\.json|opa\/wasm-capabilities\.json)$/.exec(req.url ?? "");
      if (!m) return void res.writeHead(404).end();
      res.writeHead(200).end(readFileSync(join(packageRoot, "testdata", m[1]!)));
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    bundlesUrl = await bundles.listen();
  });
  afterAll(async () => {
    await new Promise((r) => files.close(r));
    await bundles.close();
  });

  it("pins the opa version regate is built and tested with", () => {
    const makeVersion = /^OPA_VERSION := (\S+)$/m.exec(readFileSync(join(packageRoot, "Makefile"), "utf8"))![1];
    const setup = steps.find((s) => s.uses?.startsWith("open-policy-agent/setup-opa@"));
    expect([workflow.env["OPA_VERSION"], String(setup?.with?.["version"])]).toEqual([makeVersion, makeVersion]);
  });

  it("runs step by step on a sample policy repository, and regate loads the signed bundle it publishes", async () => {
    const repo = mkdtempSync(join(tmpdir(), "regate-policy-repo-"));
    cpSync(FIXTURE, repo, { recursive: true });
    const runnerTemp = mkdtempSync(join(tmpdir(), "regate-runner-"));
    const expressions: Record<string, string> = {
      "vars.REGATE_FILES_URL": filesUrl,
      "vars.BUNDLE_SERVER_URL": bundlesUrl,
      "secrets.BUNDLE_SIGNING_KEY": readFileSync(keys.rsaPrivate, "utf8"),
      "secrets.BUNDLE_UPLOAD_TOKEN": "upload-token",
    };
    const resolve = (v: string) =>
      v.replace(/\$\{\{\s*([\w.]+)\s*\}\}/g, (_, name: string) => {
        if (!(name in expressions)) throw new Error(`workflow uses \${{ ${name} }}, which the test does not provide`);
        return expressions[name]!;
      });
    const ran: string[] = [];
    for (const step of steps) {
      if (!step.run) continue;
      // The one condition the workflow uses: publish on push. This run is a push to main.
      if (step.if && step.if !== "github.event_name == 'push'") throw new Error(`unexpected condition ${step.if}`);
      const env: NodeJS.ProcessEnv = {
        PATH: `${join(packageRoot, ".bin")}:${process.env["PATH"]}`,
        HOME: runnerTemp,
        GITHUB_SHA: "0123abcd",
        GITHUB_EVENT_NAME: "push",
        RUNNER_TEMP: runnerTemp,
        ...Object.fromEntries(Object.entries({ ...workflow.env, ...step.env }).map(([k, v]) => [k, resolve(String(v))])),
      };
      // Not spawnSync: the file and bundle servers the steps talk to live on this event loop.
      const r = await bash(step.run, repo, env);
      expect({ step: step.name, status: r.status, stderr: r.status === 0 ? "" : r.stderr }).toEqual({ step: step.name, status: 0, stderr: "" });
      ran.push(step.name ?? "");
    }
    expect(ran).toEqual([
      "Fetch regate's input schema and WASM capabilities",
      "Format (opa fmt)",
      "Type-check against regate's input schema (opa check -s)",
      "Unit tests (opa test)",
      "Build for regate (WASM, regate's capabilities)",
      "Sign (opa sign)",
      "Publish to the bundle server",
    ]);
    // The signing key never stays on the runner.
    expect(execFileSync("ls", ["-A", runnerTemp], { encoding: "utf8" })).not.toContain("bundle-signing-key");

    // regate, configured with the public key, takes the published bundle from the bundle server.
    const store = new PolicyStore(join(runnerTemp, "persisted.tar.gz"), {
      signing: { required: true, exclude_files: [], keys: { ci: { algorithm: "RS256", key: readFileSync(keys.rsaPublic, "utf8"), scope: "regate" } } },
    });
    const dl = new BundleDownloader(store, { url: `${bundlesUrl}/${RESOURCE}`, minDelayMs: 60_000, maxDelayMs: 60_000, longPollSeconds: 0 });
    await dl.start();
    dl.stop();
    expect(store.status()).toMatchObject({ active_revision: "0123abcd", signature: { keyid: "ci", issued_at: expect.any(Number) } });
    const session = { principal: { groups: ["readers"] } };
    expect(store.active!.evaluate("regate/decision", { kind: "http", http: { method: "GET" }, session })).toMatchObject({ allow: true });
    expect(store.active!.evaluate("regate/decision", { kind: "http", http: { method: "DELETE" }, session })).toMatchObject({ allow: false });
  });

  it("the schema step fails a policy that reads a field regate's input does not have", () => {
    const repo = mkdtempSync(join(tmpdir(), "regate-policy-repo-"));
    cpSync(FIXTURE, repo, { recursive: true });
    const policy = join(repo, "rego", "regate", "decision.rego");
    execFileSync("sed", ["-i", "s/input.http.method/input.http.verb/", policy]);
    const check = steps.find((s) => s.name?.startsWith("Type-check"))!;
    const r = spawnSync("bash", ["-eo", "pipefail", "-c", check.run!.replace(".regate/input.schema.json", join(packageRoot, "testdata", "schemas", "input.schema.json"))], {
      cwd: repo,
      env: { PATH: `${join(packageRoot, ".bin")}:${process.env["PATH"]}` },
      encoding: "utf8",
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("undefined ref: input.http.verb");
  });
});

function bash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr }));
  });
}
