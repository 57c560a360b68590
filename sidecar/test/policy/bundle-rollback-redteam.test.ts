// Whoever answers for the bundle server (no signing key) replays an earlier, validly signed bundle that bears the
// revision of the one now active: two builds under one name, as `make bundle` names every build of an edited tree
// (`<sha>-dirty`) or a pipeline with a fixed `-r`, signed without iat (`opa build --signing-key`'s default). The
// revision history told them apart by nothing, so the laxer first build came back over its fix. Judged by the
// policy that decides afterwards, before and after a restart; the same bundle gzipped again and a further build
// of that revision must still load.
// Also: a bundle signed with the same key for another consumer, whose scope claim is a list (["staging"]), passed a
// regate that configures no scope (the claim was read as no scope at all).
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RegateError } from "../../src/errors.js";
import { BundleDownloader, PolicyStore, startPolicySource, type SigningOptions } from "../../src/policy/index.js";
import { BundleServer, RESOURCE, until } from "./bundle-server.js";
import { ALLOW, DENY, makeKeys, opaBuild } from "./opa.js";

const keys = makeKeys();
const signing: SigningOptions = {
  required: true,
  exclude_files: [],
  keys: { ci: { algorithm: "RS256", key: readFileSync(keys.rsaPublic, "utf8"), scope: "regate" } },
};
const noIat = { key: keys.rsaPrivate, alg: "RS256", claims: { keyid: "ci", scope: "regate" } };
const REVISION = "3f2a9c1-dirty";
const b: Record<string, Buffer> = {};

beforeAll(() => {
  b["lax"] = opaBuild({ revision: REVISION, rego: ALLOW, sign: noIat }); // the first build: lets everything through
  b["fix"] = opaBuild({ revision: REVISION, rego: DENY, sign: noIat }); // rebuilt after the fix, same name
  b["fixAgain"] = Buffer.from(gzipSync(gunzipSync(b["fix"]!), { level: 1 })); // the fix, other bytes
  b["later"] = opaBuild({ revision: REVISION, rego: DENY, data: '{"later": true}', sign: noIat }); // a further build
  const unscoped = { key: keys.rsaPrivate, alg: "RS256", claims: { keyid: "ci" } };
  b["ours"] = opaBuild({ revision: "ours", rego: DENY, sign: unscoped });
  b["staging"] = opaBuild({ revision: "staging", rego: ALLOW, sign: { ...unscoped, claims: { keyid: "ci", scope: ["staging"] } } });
  b["nullScope"] = opaBuild({ revision: "ours-2", rego: DENY, sign: { ...unscoped, claims: { keyid: "ci", scope: null } } });
}, 120_000);

const decide = (store: PolicyStore) => (store.active?.evaluate("regate/decision", {}) as { allow: boolean } | undefined)?.allow;

describe("replay of an earlier build of the active revision", () => {
  const servers: BundleServer[] = [];
  const stops: (() => unknown)[] = [];
  afterAll(async () => {
    for (const s of stops) await s();
    for (const s of servers) await s.close();
  });

  it("is refused (BUNDLE_ROLLBACK) and the fix keeps deciding; the fix gzipped again and a later build still load", async () => {
    const server = new BundleServer();
    servers.push(server);
    const base = await server.listen();
    const persisted = join(mkdtempSync(join(tmpdir(), "regate-rollback-")), "bundle.tar.gz");
    const store = new PolicyStore(persisted, { signing });
    const errors: RegateError[] = [];
    const dl = new BundleDownloader(store, { url: `${base}/${RESOURCE}`, minDelayMs: 30, maxDelayMs: 60, longPollSeconds: 0, persistPath: persisted }, (e) => errors.push(e));
    stops.push(() => dl.stop());

    server.serve(b["lax"]!);
    await dl.start();
    expect(decide(store)).toBe(true);
    server.serve(b["fix"]!);
    await until(() => decide(store) === false, () => String(decide(store)));

    server.serve(b["lax"]!);
    await until(() => errors.some((e) => e.code === "BUNDLE_ROLLBACK"), () => errors.map((e) => e.message).join("; ") || "no error");
    expect(errors.at(-1)!.message).toMatch(/^bundle revision 3f2a9c1-dirty with this content \(sha256:[0-9a-f]{64}\) was active before 3f2a9c1-dirty/);
    expect(decide(store)).toBe(false);
    expect(store.status()).toMatchObject({ active_revision: REVISION, code: "BUNDLE_ROLLBACK" });

    // Must still load: the active bundle in other bytes is the active bundle (no refusal), and a further build is new.
    server.serve(b["fixAgain"]!);
    await until(() => store.status().metrics!.activations === 3, () => JSON.stringify(store.status()));
    expect(store.status().code).toBeUndefined();
    expect(decide(store)).toBe(false);
    server.serve(b["later"]!);
    await until(() => store.status().metrics!.activations === 4, () => JSON.stringify(store.status()));
    expect(decide(store)).toBe(false);
    // The revisions file is written last (policy/persisted.ts): once it names the later build's bytes, the pair is complete.
    const laterSha = createHash("sha256").update(b["later"]!).digest("hex");
    await until(() => readFileSync(`${persisted}.revisions.json`, "utf8").includes(laterSha), () => "not persisted");
    dl.stop();

    // Restart from what was persisted: the earlier builds are still refused.
    for (const replay of ["lax", "fix"]) {
      server.serve(b[replay]!);
      const restarted = new PolicyStore(persisted, { signing });
      const restartErrors: RegateError[] = [];
      const config = { bundle: persisted, entrypoint: "regate/decision", dry_run: false, watch_interval_ms: 0, service: { url: base, resource: RESOURCE, min_delay_seconds: 60, max_delay_seconds: 60, long_polling_timeout_seconds: 0, persist: true } };
      const source = await startPolicySource(restarted, config, { onError: (e) => restartErrors.push(e) });
      stops.push(() => source.close());
      expect(restartErrors.map((e) => e.code), replay).toEqual(["BUNDLE_ROLLBACK"]);
      expect(restarted.status()).toMatchObject({ active_revision: REVISION, source: "persisted", code: "BUNDLE_ROLLBACK" });
      expect(decide(restarted)).toBe(false);
      source.close();
    }
  });
});

describe("a scope claim that is not a string, where no scope is configured", () => {
  const unscopedSigning: SigningOptions = { ...signing, keys: { ci: { algorithm: "RS256", key: readFileSync(keys.rsaPublic, "utf8") } } };
  const servers: BundleServer[] = [];
  const stops: (() => unknown)[] = [];
  afterAll(async () => {
    for (const s of stops) await s();
    for (const s of servers) await s.close();
  });

  it("is refused (BUNDLE_SIGNATURE_INVALID) and our signed policy keeps deciding; a null scope is no scope and loads", async () => {
    const server = new BundleServer();
    servers.push(server);
    const base = await server.listen();
    const store = new PolicyStore("unused", { signing: unscopedSigning });
    const errors: RegateError[] = [];
    const dl = new BundleDownloader(store, { url: `${base}/${RESOURCE}`, minDelayMs: 30, maxDelayMs: 60, longPollSeconds: 0 }, (e) => errors.push(e));
    stops.push(() => dl.stop());
    server.serve(b["ours"]!);
    await dl.start();
    expect(store.active?.revision).toBe("ours");

    server.serve(b["staging"]!);
    await until(() => errors.length > 0, () => "no error");
    expect([errors[0]!.code, errors[0]!.message]).toEqual(["BUNDLE_SIGNATURE_INVALID", "bundle signature scope is a JSON array, not a string"]);
    expect(store.active?.revision).toBe("ours");
    expect(decide(store)).toBe(false);

    server.serve(b["nullScope"]!);
    await until(() => store.active?.revision === "ours-2", () => String(store.active?.revision));
    expect(decide(store)).toBe(false);
  });
});
