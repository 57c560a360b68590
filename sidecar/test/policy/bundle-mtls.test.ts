// A bundle server that requires a client certificate (mTLS): regate presents the one from policy.service,
// through the same config path `regate run` uses; without it, or with one the server does not trust,
// nothing is loaded and every decision is a fail-closed deny.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadConfig } from "../../src/config/index.js";
import type { RegateError } from "../../src/errors.js";
import { PolicyStore, startPolicySource } from "../../src/policy/index.js";
import { BundleServer, RESOURCE, until } from "./bundle-server.js";
import { ALLOW, opaBuild } from "./opa.js";

let dir: string;
const pem = (name: string, cn: string) => {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", `/CN=${cn}`, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
  return { cert, key };
};
let server: { cert: string; key: string };
let client: { cert: string; key: string };
let stranger: { cert: string; key: string };
let bundleServer: BundleServer;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "regate-bundle-mtls-"));
  server = pem("server", "127.0.0.1");
  client = pem("client", "regate-sidecar-7");
  stranger = pem("stranger", "someone-else");
  bundleServer = new BundleServer({ tls: { cert: readFileSync(server.cert), key: readFileSync(server.key), ca: readFileSync(client.cert), requestCert: true, rejectUnauthorized: true } });
  base = await bundleServer.listen();
  bundleServer.serve(opaBuild({ revision: "mtls-1", rego: ALLOW }));
}, 120_000);
afterAll(async () => {
  await bundleServer.close();
  rmSync(dir, { recursive: true, force: true });
});

async function source(tls: Record<string, string>) {
  const config = loadConfig({
    text: stringify({ agents: { tokens: [] }, policy: { bundle: join(dir, `persist-${Math.random()}.tar.gz`), service: { url: base, resource: RESOURCE, min_delay_seconds: 0.05, max_delay_seconds: 0.1, ...tls } } }),
    env: {},
  });
  const store = new PolicyStore(config.policy.bundle);
  const errors: RegateError[] = [];
  const src = await startPolicySource(store, config.policy, { onError: (e) => errors.push(e) });
  return { store, errors, close: () => src.close() };
}

describe("bundle server with mTLS", () => {
  it("presents the configured client certificate and loads the bundle", async () => {
    const s = await source({ ca_file: server.cert, cert_file: client.cert, key_file: client.key });
    try {
      await until(() => s.store.active !== undefined, () => s.errors.map((e) => e.message).join("; "));
      expect(s.store.active!.revision).toBe("mtls-1");
    } finally {
      await s.close();
    }
  });

  it.each([
    ["no client certificate", () => ({ ca_file: server.cert })],
    ["a client certificate the server does not trust", () => ({ ca_file: server.cert, cert_file: stranger.cert, key_file: stranger.key })],
  ])("%s: nothing loads, the failure is reported", async (_name, tls) => {
    const s = await source(tls());
    try {
      await until(() => s.errors.length > 0, () => "no error reported");
      expect(s.store.active).toBeUndefined();
      expect(s.errors[0]!.code).toBe("BUNDLE_DOWNLOAD_FAILED");
    } finally {
      await s.close();
    }
  });

  it("config refuses a certificate without its key", () => {
    expect(() => loadConfig({ text: stringify({ policy: { service: { url: base, cert_file: client.cert } } }), env: {} })).toThrow(/key_file/);
  });
});
