import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { startApp } from "../../src/app.js";
import { statusCommand } from "../../src/cli/status.js";
import { loadConfig } from "../../src/config/index.js";
import type { RegateError } from "../../src/errors.js";
import { createLogger } from "../../src/log.js";
import { BundleDownloader, PolicyStore, startPolicySource, type SigningOptions } from "../../src/policy/index.js";
import { BundleServer, RESOURCE, until } from "./bundle-server.js";
import { ALLOW, DENY, makeKeys, opaBuild, tamper } from "./opa.js";

const keys = makeKeys();
const signedBy = (iat: number) => ({ key: keys.rsaPrivate, alg: "RS256", claims: { keyid: "ci", scope: "regate", iat } });
const signing: SigningOptions = {
  required: true,
  exclude_files: [],
  keys: { ci: { algorithm: "RS256", key: readFileSync(keys.rsaPublic, "utf8"), scope: "regate" } },
};
const b: Record<string, Buffer> = {};

beforeAll(() => {
  b["r1"] = opaBuild({ revision: "r1", rego: ALLOW, sign: signedBy(1000) });
  b["r2"] = opaBuild({ revision: "r2", rego: DENY, sign: signedBy(2000) });
  b["r3"] = opaBuild({ revision: "r3", rego: ALLOW, data: '{"limits": {"rows": 10}}', sign: signedBy(3000) });
  b["tampered"] = tamper(b["r3"], (d) => writeFileSync(join(d, "data.json"), '{"limits":{"rows":100000}}'));
  b["unsigned"] = opaBuild({ revision: "r4", rego: ALLOW });
  b["older"] = opaBuild({ revision: "r5", rego: ALLOW, sign: signedBy(1500) });
  // Signed without iat, as `opa build --signing-key` does by default: only the revision history catches a replay.
  const noIat = { key: keys.rsaPrivate, alg: "RS256", claims: { keyid: "ci", scope: "regate" } };
  b["n1"] = opaBuild({ revision: "n1", rego: ALLOW, sign: noIat });
  b["n2"] = opaBuild({ revision: "n2", rego: DENY, sign: noIat });
}, 120_000);

const decide = (store: PolicyStore) => (store.active?.evaluate("regate/decision", {}) as { allow: boolean } | undefined)?.allow;

describe("bundles from a bundle server", () => {
  const servers: BundleServer[] = [];
  const stops: (() => unknown)[] = [];
  afterAll(async () => {
    for (const s of stops) await s();
    for (const s of servers) await s.close();
  });

  it("picks up a new signed revision without restart; refuses tampered, unsigned and rolled-back ones; the last good keeps serving", async () => {
    const server = new BundleServer();
    servers.push(server);
    const base = await server.listen();
    server.serve(b["r1"]!);
    const persisted = join(mkdtempSync(join(tmpdir(), "regate-persist-")), "bundle.tar.gz");
    const store = new PolicyStore(persisted, { signing });
    const errors: RegateError[] = [];
    const dl = new BundleDownloader(store, { url: `${base}/${RESOURCE}`, minDelayMs: 30, maxDelayMs: 60, longPollSeconds: 0, persistPath: persisted }, (e) => errors.push(e));
    stops.push(() => dl.stop());

    await dl.start();
    expect(store.active?.revision).toBe("r1");
    expect(decide(store)).toBe(true);
    expect(readFileSync(persisted).equals(b["r1"]!)).toBe(true);

    // Unchanged: If-None-Match with the ETag, answered 304.
    await until(() => server.requests.filter((r) => r.status === 304).length >= 2, () => JSON.stringify(server.requests.map((r) => r.status)));
    const etag = server.requests.find((r) => r.status === 304)!.headers["if-none-match"];
    expect(etag).toMatch(/^"[0-9a-f]{16}"$/);

    server.serve(b["r2"]!);
    await until(() => store.active?.revision === "r2", () => String(store.active?.revision));
    expect(decide(store)).toBe(false);
    // Written after the swap: the file follows a moment later.
    await until(() => readFileSync(persisted).equals(b["r2"]!), () => "persisted copy is not r2");

    const refusals: [name: string, code: string, message: string][] = [
      ["tampered", "BUNDLE_SIGNATURE_INVALID", "bundle file data.json does not match its signed digest"],
      ["unsigned", "BUNDLE_UNSIGNED", "bundle has no .signatures.json and signing is required"],
      ["r1", "BUNDLE_ROLLBACK", "bundle revision r1 was active before r2"], // a revision that was active before
      ["older", "BUNDLE_ROLLBACK", "bundle revision r5 was signed at 1500, before the active one (2000)"], // new revision, older iat
    ];
    for (const [name, code, message] of refusals) {
      // A refused bundle is fetched again at each poll, so the previous one's refusals may still be arriving:
      // wait for this one's.
      server.serve(b[name]!);
      await until(() => errors.at(-1)?.message.startsWith(message) === true, () => `${name}: last error ${errors.at(-1)?.message}`);
      expect(errors.at(-1)!.code).toBe(code);
      expect(store.active?.revision).toBe("r2");
      expect(decide(store)).toBe(false);
      expect(store.status()).toMatchObject({ active_revision: "r2", code });
      expect(readFileSync(persisted).equals(b["r2"]!)).toBe(true);
    }

    server.serve(b["r3"]!);
    await until(() => store.active?.revision === "r3", () => String(store.active?.revision));
    const status = store.status();
    expect(status).toMatchObject({ active_revision: "r3", source: "service", signature: { keyid: "ci", issued_at: 3000 } });
    expect(status.code).toBeUndefined();
    expect(status.metrics).toMatchObject({ activations: 3, refused: expect.any(Number) });
    expect(status.metrics!.refused).toBeGreaterThanOrEqual(4);
  });

  it("the revision history is persisted: after a restart a replay of an earlier revision signed without iat is refused", async () => {
    const server = new BundleServer();
    servers.push(server);
    const base = await server.listen();
    server.serve(b["n1"]!);
    const persisted = join(mkdtempSync(join(tmpdir(), "regate-history-")), "bundle.tar.gz");
    const store = new PolicyStore(persisted, { signing });
    const dl = new BundleDownloader(store, { url: `${base}/${RESOURCE}`, minDelayMs: 30, maxDelayMs: 60, longPollSeconds: 0, persistPath: persisted });
    stops.push(() => dl.stop());
    await dl.start();
    server.serve(b["n2"]!);
    // The revisions file is written last (policy/persisted.ts): once it names n2, the pair is complete.
    await until(() => readFileSync(persisted).equals(b["n2"]!) && readFileSync(`${persisted}.revisions.json`, "utf8").includes('"revision":"n2"'), () => String(store.active?.revision));
    dl.stop();
    expect(JSON.parse(readFileSync(`${persisted}.revisions.json`, "utf8"))).toEqual({ revision: "n2", sha256: createHash("sha256").update(b["n2"]!).digest("hex"), previous_revisions: ["n1"] });

    // Restart: the persisted bundle and its history, then the server replays n1.
    const restarted = new PolicyStore(persisted, { signing });
    server.serve(b["n1"]!);
    const errors: RegateError[] = [];
    const config = { bundle: persisted, entrypoint: "regate/decision", dry_run: false, watch_interval_ms: 0, service: { url: base, resource: RESOURCE, min_delay_seconds: 60, max_delay_seconds: 60, long_polling_timeout_seconds: 0, persist: true } };
    const source = await startPolicySource(restarted, config, { onError: (e) => errors.push(e) });
    stops.push(() => source.close());
    expect(restarted.status()).toMatchObject({ active_revision: "n2", source: "persisted", code: "BUNDLE_ROLLBACK", message: "bundle revision n1 was active before n2; set policy.signing.allow_rollback to go back" });
    expect(errors.map((e) => e.code)).toEqual(["BUNDLE_ROLLBACK"]);
  });

  it("allow_rollback accepts an older signed bundle", async () => {
    const store = new PolicyStore("unused", { signing, allowRollback: true });
    await store.install(b["r2"]!, "service");
    await store.install(b["r1"]!, "service");
    expect(store.active?.revision).toBe("r1");
  });

  it("long polling: a change arrives while the poll is held; kept only with the bundle content type", async () => {
    const holding = new BundleServer({ longPolling: true });
    const plain = new BundleServer({ longPolling: false });
    servers.push(holding, plain);
    const [hBase, pBase] = [await holding.listen(), await plain.listen()];
    holding.serve(b["r1"]!);
    plain.serve(b["r1"]!);
    const hStore = new PolicyStore("unused", { signing });
    const pStore = new PolicyStore("unused", { signing });
    // Delays of a minute: only a held request that wakes on the change can deliver r2 within the test.
    const opts = { minDelayMs: 60_000, maxDelayMs: 60_000, longPollSeconds: 30 };
    const hDl = new BundleDownloader(hStore, { url: `${hBase}/${RESOURCE}`, ...opts });
    const pDl = new BundleDownloader(pStore, { url: `${pBase}/${RESOURCE}`, ...opts });
    stops.push(
      () => hDl.stop(),
      () => pDl.stop(),
    );
    await Promise.all([hDl.start(), pDl.start()]);
    expect([hStore.active?.revision, pStore.active?.revision]).toEqual(["r1", "r1"]);
    expect(plain.requests[0]!.headers["prefer"]).toBe("modes=snapshot;wait=0");
    expect([hDl.longPolling, pDl.longPolling]).toEqual([true, false]);

    await until(() => holding.requests.length >= 1 && hStore.active !== undefined, () => "");
    await new Promise((r) => setTimeout(r, 200)); // the next, held request is on its way
    holding.serve(b["r2"]!);
    await until(() => hStore.active?.revision === "r2", () => String(hStore.active?.revision), 10_000);
    expect(holding.requests.at(-1)!.headers["prefer"]).toBe("modes=snapshot;wait=30");
    expect(plain.requests).toHaveLength(1); // the plain server is asked again only after a minute
  });

  it("after a restart with the server down the persisted bundle enforces; /status and regate status show it; the server's return is picked up", async () => {
    // Phase 1: a sidecar downloads r2 and persists it.
    const dir = mkdtempSync(join(tmpdir(), "regate-restart-"));
    const server = new BundleServer({ token: "bundle-token" });
    servers.push(server);
    const base = await server.listen();
    const port = Number(new URL(base).port);
    server.serve(b["r2"]!);
    const config = () =>
      loadConfig({
        text: stringify({
          policy: {
            bundle: join(dir, "last-good.tar.gz"),
            service: { url: base, resource: RESOURCE, token: { env: "BUNDLE_TOKEN" }, min_delay_seconds: 0.05, max_delay_seconds: 0.1 },
            signing: { keyid: "ci", keys: { ci: { algorithm: "RS256", key: { file: keys.rsaPublic }, scope: "regate" } } },
          },
          decision_log: { enabled: false },
          postgres: { enabled: false },
          http: { enabled: false },
          admin: { listen: { host: "127.0.0.1", port: 0 } },
          // /status says more than states only to a responder (docs/incident-response.md).
          incident: { responders: [{ name: "ops", token: { env: "OPS_TOKEN" } }] },
        }),
        env: { BUNDLE_TOKEN: "bundle-token", OPS_TOKEN: "ops-token-status-41c7" },
      });
    const log = createLogger({ level: "silent" });
    const first = await startApp({ config: config(), log });
    expect(first.store.active?.revision).toBe("r2");
    await first.close();
    await server.close();

    // Phase 2: restart with the server down.
    const app = await startApp({ config: config(), log });
    stops.push(() => app.close());
    expect(app.store.active?.revision).toBe("r2");
    expect(decide(app.store)).toBe(false);
    const adminBase = `http://127.0.0.1:${app.ports.admin}`;
    const ops = { headers: { authorization: "Bearer ops-token-status-41c7" } };
    const status = (await (await fetch(`${adminBase}/status`, ops)).json()) as Record<string, any>;
    expect(status["bundles"]["regate"]).toMatchObject({ name: "regate", active_revision: "r2", source: "persisted", code: "BUNDLE_DOWNLOAD_FAILED" });
    expect(status["bundles"]["regate"]["last_successful_activation"]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(status["plugins"]["bundle"]).toEqual({ state: "WARN" });
    expect(((await (await fetch(`${adminBase}/v1/status`, ops)).json()) as { result: unknown }).result).toMatchObject({ bundles: { regate: { active_revision: "r2", source: "persisted" } } });

    const cli = await captureStdout(() => statusCommand(["--url", adminBase], { REGATE_RESPONDER_TOKEN: "ops-token-status-41c7" }));
    expect(cli.code).toBe(2);
    expect(cli.out).toContain("bundle regate\n");
    expect(cli.out).toMatch(/ {2}active revision {5}r2\n/);
    expect(cli.out).toMatch(/ {2}source {14}persisted\n/);
    expect(cli.out).toMatch(/ {2}last error {10}BUNDLE_DOWNLOAD_FAILED: cannot reach the bundle server/);
    expect(cli.out).toMatch(/ {2}bundle {14}WARN\n/);

    // Phase 3: the server comes back on the same address with r3: picked up, no restart.
    const back = new BundleServer({ token: "bundle-token" });
    servers.push(back);
    back.serve(b["r3"]!);
    await back.listen(port);
    await until(() => app.store.active?.revision === "r3", () => String(app.store.active?.revision));
    const after = await captureStdout(() => statusCommand(["--url", adminBase], {}));
    expect(after.code).toBe(0);
    expect(after.out).toMatch(/ {2}active revision {5}r3\n/);
    expect(after.out).toMatch(/ {2}last error {10}none\n/);
    expect(back.requests.every((r) => r.headers["authorization"] === "Bearer bundle-token")).toBe(true);
  });
});

describe("redirects", () => {
  it("follows a redirect to another host without the bearer token; refuses a redirect loop", async () => {
    const target = new BundleServer();
    const targetBase = (await target.listen()).replace("127.0.0.1", "localhost"); // another host name
    target.serve(b["r1"]!);
    const seenTokens: (string | undefined)[] = [];
    const redirector = createServer((req, res) => {
      seenTokens.push(req.headers["authorization"]);
      const to = req.url === "/loop" ? "/loop" : `${targetBase}/${RESOURCE}`;
      res.writeHead(302, { location: to }).end();
    });
    await new Promise<void>((r) => redirector.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
    try {
      const store = new PolicyStore("unused", { signing });
      const errors: RegateError[] = [];
      const dl = new BundleDownloader(store, { url: `${base}/${RESOURCE}`, token: "t0ken", minDelayMs: 60_000, maxDelayMs: 60_000, longPollSeconds: 0 }, (e) => errors.push(e));
      await dl.start();
      dl.stop();
      expect(store.active?.revision).toBe("r1");
      expect(seenTokens).toEqual(["Bearer t0ken"]);
      expect(target.requests.map((r) => r.headers["authorization"])).toEqual([undefined]);

      const looping = new BundleDownloader(new PolicyStore("unused"), { url: `${base}/loop`, minDelayMs: 60_000, maxDelayMs: 60_000, longPollSeconds: 0 }, (e) => errors.push(e));
      await looping.start();
      looping.stop();
      expect(errors.map((e) => e.message)).toEqual([`bundle server redirected more than 5 times for ${base}/loop`]);
    } finally {
      redirector.close();
      await target.close();
    }
  });
});

describe("signed bundles from a file", () => {
  it("signing applies to policy.bundle too: an unsigned file stops startup, a signed one starts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "regate-file-"));
    const config = (file: string) =>
      loadConfig({
        text: stringify({
          policy: { bundle: file, watch_interval_ms: 0, signing: { keys: { ci: { algorithm: "RS256", key: { file: keys.rsaPublic }, scope: "regate" } } } },
          decision_log: { enabled: false },
          postgres: { enabled: false },
          http: { enabled: false },
          admin: { enabled: false },
        }),
        env: {},
      });
    writeFileSync(join(dir, "unsigned.tar.gz"), b["unsigned"]!);
    writeFileSync(join(dir, "signed.tar.gz"), b["r1"]!);
    const log = createLogger({ level: "silent" });
    await expect(startApp({ config: config(join(dir, "unsigned.tar.gz")), log })).rejects.toMatchObject({ code: "BUNDLE_UNSIGNED" });
    const app = await startApp({ config: config(join(dir, "signed.tar.gz")), log });
    expect(app.store.status()).toMatchObject({ active_revision: "r1", source: "file", signature: { keyid: "ci", issued_at: 1000 } });
    await app.close();
  });
});

async function captureStdout(run: () => Promise<number>): Promise<{ code: number; out: string }> {
  let out = "";
  const original = process.stdout.write.bind(process.stdout);
  const sink = new Writable({ write: (c, _e, cb) => ((out += String(c)), cb()) });
  process.stdout.write = sink.write.bind(sink) as typeof process.stdout.write;
  try {
    return { code: await run(), out };
  } finally {
    process.stdout.write = original;
  }
}
