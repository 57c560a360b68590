// Attacks on the policy supply: whoever can serve bundles (a compromised bundle server, a man in the middle on
// plain http, a writable bundle directory) but does not hold the signing key. Each bundle must be refused with
// a clear error while the policy active before keeps serving, and refusing it must leave the process as it was.
import { execFileSync } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../src/config/index.js";
import type { RegateError } from "../../src/errors.js";
import { BundleDownloader, PolicyStore, readBundle, verifyBundleSignature, type SigningOptions } from "../../src/policy/index.js";
import { canonicalJson } from "../../src/policy/canonical-json.js";
import { storeOptions } from "../../src/policy/source.js";
import { ALLOW, DENY, makeKeys, opaBuild, wasmBundle } from "../policy/opa.js";

const keys = makeKeys();
const servers: Server[] = [];
const stops: (() => void)[] = [];
let signedGood: Buffer;
let unsignedDeny: Buffer;

beforeAll(() => {
  signedGood = opaBuild({ revision: "good", rego: DENY, sign: { key: keys.rsaPrivate, alg: "RS256" } });
  unsignedDeny = opaBuild({ revision: "evil", rego: ALLOW });
}, 120_000);

afterEach(() => {
  for (const s of stops.splice(0)) s();
  // Undo what a polluting bundle did, so one failure does not spread to the next case.
  for (const k of ["evil", "polluted"]) delete (Object.prototype as Record<string, unknown>)[k];
});
afterAll(() => {
  for (const s of servers) s.close();
});

const policy = (over: Partial<Config["policy"]> = {}) =>
  ({ bundle: "unused", entrypoint: "regate/decision", dry_run: false, watch_interval_ms: 0, eval_timeout_ms: 0, ...over }) as unknown as Config["policy"];

/** A signing config as an operator writes it: one RSA key, no keyid (the token's kid names the key). */
const signing = () =>
  policy({ signing: { required: true, exclude_files: [], allow_rollback: false, keys: { default: { algorithm: "RS256", key: { reveal: () => readFileSync(keys.rsaPublic, "utf8") } } } } } as never);

/** Unpacks a bundle into a directory, lets `edit` change it, packs it back (tar -czf, file list as given). */
function repack(bundle: Buffer, edit: (dir: string) => string[]): Buffer {
  const work = mkdtempSync(join(tmpdir(), "regate-rt-bundle-"));
  const x = join(work, "x");
  mkdirSync(x);
  writeFileSync(join(work, "in.tar.gz"), bundle);
  execFileSync("tar", ["-xzf", join(work, "in.tar.gz"), "-C", x], { stdio: "pipe" });
  const names = edit(x);
  execFileSync("tar", ["-czf", join(work, "out.tar.gz"), "-C", x, ...names], { stdio: "pipe" });
  return readFileSync(join(work, "out.tar.gz"));
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
function hs256(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}
const digest = (name: string, bytes: Buffer) =>
  createHash("sha256").update(name.endsWith("data.json") || name === ".manifest" ? Buffer.from(canonicalJson(bytes.toString("utf8"))) : bytes).digest("hex");

async function storeWithGood(opts = signing()): Promise<PolicyStore> {
  const store = new PolicyStore("unused", storeOptions(opts, "regate"));
  stops.push(() => store.close());
  await store.install(signedGood, "service");
  expect(store.active?.revision).toBe("good");
  return store;
}

describe("bundle data that reaches Object.prototype", () => {
  it("__proto__/data.json naming a key of its own: refused, nothing polluted, the signed policy keeps serving", async () => {
    const store = await storeWithGood();
    const evil = repack(unsignedDeny, (d) => {
      mkdirSync(join(d, "__proto__"));
      // Merged into the data tree naively, this lands on Object.prototype: `keys.evil` would then be a key.
      writeFileSync(join(d, "__proto__", "data.json"), JSON.stringify({ evil: { algorithm: "HS256", key: "attacker-secret" } }));
      const names = [".manifest", "policy.wasm", "__proto__/data.json"];
      const files = names.map((name) => ({ name, hash: digest(name, readFileSync(join(d, name))), algorithm: "SHA-256" }));
      writeFileSync(join(d, ".signatures.json"), JSON.stringify({ signatures: [hs256({ alg: "HS256", kid: "evil" }, { files }, "attacker-secret")] }));
      return [...names, ".signatures.json"];
    });
    const err = await store.install(evil, "service").then(() => undefined, (e: RegateError) => e);
    expect(err?.code).toMatch(/^BUNDLE_/);
    expect(({} as Record<string, unknown>)["evil"]).toBeUndefined();
    expect(store.active?.revision).toBe("good");
  });

  it("an unsigned bundle's __proto__/data.json: Object.prototype untouched", async () => {
    const store = new PolicyStore("unused", storeOptions(policy(), "regate"));
    stops.push(() => store.close());
    const bundle = repack(unsignedDeny, (d) => {
      mkdirSync(join(d, "__proto__"));
      writeFileSync(join(d, "__proto__", "data.json"), JSON.stringify({ polluted: true }));
      return [".manifest", "policy.wasm", "__proto__/data.json"];
    });
    await store.install(bundle, "file").catch(() => undefined);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });

  it("data keys named like Object.prototype's members are data, as in OPA", () => {
    const bundle = repack(unsignedDeny, (d) => {
      writeFileSync(join(d, "data.json"), '{"__proto__": {"a": 1}, "constructor": {"x": 1}, "toString": 2}');
      return [".manifest", "policy.wasm", "data.json"];
    });
    const data = readBundle(bundle).data;
    expect(JSON.parse(JSON.stringify(data))).toEqual(JSON.parse('{"__proto__": {"a": 1}, "constructor": {"x": 1}, "toString": 2}'));
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
  });
});

describe("tarball tricks", () => {
  it.each([
    ["a revision that is an object", '{"revision": {"toString": 1}}'],
    ["a manifest that is an array", "[1]"],
    ["a manifest that is null", "null"],
  ])(".manifest with %s: refused", (_name, text) => {
    const bundle = repack(unsignedDeny, (d) => {
      writeFileSync(join(d, ".manifest"), text);
      return [".manifest", "policy.wasm"];
    });
    expect(() => readBundle(bundle)).toThrow(/\.manifest must be a JSON object whose revision is a string/);
  });

  it("a second entry of a signed file's name: refused, the signed policy keeps serving", async () => {
    const store = await storeWithGood();
    // The signed bundle with an unsigned policy.wasm appended under the same name (tar -r): last one wins in a naive reader.
    const work = mkdtempSync(join(tmpdir(), "regate-rt-dup-"));
    for (const [name, bytes] of [["a", signedGood], ["b", unsignedDeny]] as const) {
      mkdirSync(join(work, name));
      writeFileSync(join(work, `${name}.tar.gz`), bytes);
      execFileSync("tar", ["-xzf", join(work, `${name}.tar.gz`), "-C", join(work, name)], { stdio: "pipe" });
    }
    execFileSync("tar", ["-cf", join(work, "dup.tar"), "-C", join(work, "a"), "."], { stdio: "pipe" });
    execFileSync("tar", ["-rf", join(work, "dup.tar"), "-C", join(work, "b"), "./policy.wasm"], { stdio: "pipe" });
    execFileSync("gzip", ["-k", join(work, "dup.tar")], { stdio: "pipe" });
    const err = await store.install(readFileSync(join(work, "dup.tar.gz")), "service").then(() => undefined, (e: RegateError) => e);
    expect(err?.code).toBe("BUNDLE_INVALID");
    expect(err?.message).toMatch(/policy.wasm.*twice|twice.*policy.wasm/);
    expect(store.active?.revision).toBe("good");
  });

  it("the same file twice in an unsigned bundle: refused (which copy would run is not for a tar reader to guess)", async () => {
    const store = new PolicyStore("unused", storeOptions(policy(), "regate"));
    stops.push(() => store.close());
    // --hard-dereference: GNU tar would otherwise store the second as a hard link to the first.
    const dup = repack(unsignedDeny, () => ["--hard-dereference", ".manifest", "policy.wasm", "./policy.wasm"]);
    await expect(store.install(dup, "file")).rejects.toMatchObject({ code: "BUNDLE_INVALID" });
  });
});

describe("digests in the signature", () => {
  const hsOpts = (): SigningOptions => ({ required: true, exclude_files: [], keys: { ci: { algorithm: "HS256", key: "ci-secret" } } });
  const files = new Map<string, Uint8Array>([["policy.wasm", Buffer.from("wasm bytes")]]);
  const signedWith = (algorithm: string, hash: string) => {
    const all = new Map(files);
    all.set(".signatures.json", Buffer.from(JSON.stringify({ signatures: [hs256({ alg: "HS256", kid: "ci" }, { files: [{ name: "policy.wasm", hash, algorithm }] }, "ci-secret")] })));
    return all;
  };
  const hex = (alg: string) => createHash(alg).update("wasm bytes").digest("hex");

  it.each([
    ["MD5", "md5"],
    ["SHA-1", "sha1"],
  ])("%s, though it matches: refused (collisions are practical)", (algorithm, node) => {
    expect(() => verifyBundleSignature(signedWith(algorithm, hex(node)), hsOpts())).toThrow(/known collisions/);
  });

  it.each([
    ["an algorithm name that is an Object member", "constructor", hex("sha256"), /unsupported hash constructor/],
    ["a SHA-256 label on an MD5 digest", "SHA-256", hex("md5"), /does not match its signed digest/],
    ["a lower-case name", "sha-256", hex("sha256"), /unsupported hash sha-256/],
  ])("%s: refused", (_name, algorithm, hash, error) => {
    expect(() => verifyBundleSignature(signedWith(algorithm, hash), hsOpts())).toThrow(error);
  });

  it("SHA-256 that matches: accepted", () => {
    expect(verifyBundleSignature(signedWith("SHA-256", hex("sha256")), hsOpts())).toMatchObject({ keyid: "ci" });
  });
});

describe("a bundle without the decision entrypoint", () => {
  it("is refused at install (a clear error), and the policy active before keeps deciding", async () => {
    const store = await storeWithGood(policy());
    const other = readFileSync(wasmBundle("other", { "p.rego": 'package other\n\ndecision := {"allow": true, "deny": [], "mask": []}\n' }, ["other/decision"]));
    const err = await store.install(other, "service").then(() => undefined, (e: RegateError) => e);
    expect(err?.code).toBe("BUNDLE_INVALID");
    expect(err?.message).toMatch(/regate\/decision/);
    expect(store.active?.revision).toBe("good");
    expect(store.status()).toMatchObject({ active_revision: "good", code: "BUNDLE_INVALID" });
  }, 60_000);
});

describe("a bundle server that never finishes", () => {
  it("a 200 whose body trickles in forever is given up within the request deadline; the next poll goes out", async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { "content-type": "application/gzip" });
      // One byte a second: never idle long enough for a socket timeout, never done.
      const t = setInterval(() => res.write(Buffer.from([0x1f])), 100);
      res.on("close", () => clearInterval(t));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const store = await storeWithGood(policy());
    const errors: RegateError[] = [];
    const dl = new BundleDownloader(
      store,
      { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/b.tar.gz`, minDelayMs: 50, maxDelayMs: 100, longPollSeconds: 0, requestTimeoutMs: 1000 } as never,
      (e) => errors.push(e),
    );
    stops.push(() => dl.stop());
    const started = Date.now();
    await dl.start();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(errors[0]).toMatchObject({ code: "BUNDLE_DOWNLOAD_FAILED", message: expect.stringMatching(/did not finish answering within 1000 ms/) });
    expect(store.active?.revision).toBe("good");
    await new Promise((r) => setTimeout(r, 1500));
    expect(requests).toBeGreaterThanOrEqual(2);
  }, 20_000);
});
