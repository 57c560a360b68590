// Attacks on the bundle supply by whoever controls the bundle server's answers or the network, without the
// signing key: every bundle here must be refused quickly (the proxy's thread is the one that reads it), with a
// clear error, while the signed policy active before keeps serving; what is loaded must be what was signed.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../src/config/index.js";
import type { RegateError } from "../../src/errors.js";
import { canonicalJson, PolicyStore, readBundle } from "../../src/policy/index.js";
import { storeOptions } from "../../src/policy/source.js";
import { makeKeys, opaBuild } from "./opa.js";

const keys = makeKeys();
const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

/** Allows only while data.tag is U+FFFD: what the signer wrote, and what OPA loads for it. */
const TAGGED = 'package regate\n\ndecision := {"allow": data.tag == "\\ufffd", "deny": [], "mask": []}\n';

let good: Buffer;
let tagged: Buffer;
let noRevA: Buffer;
let noRevB: Buffer;
beforeAll(() => {
  good = opaBuild({ revision: "good", sign: { key: keys.hmac, alg: "HS256" } });
  tagged = opaBuild({ revision: "tagged", rego: TAGGED, data: '{"tag": "\ufffd"}', sign: { key: keys.hmac, alg: "HS256" } });
  // opa build without a revision (its manifest says ""), signed without iat: opa's defaults.
  noRevA = opaBuild({ revision: "", data: '{"v": 1}', sign: { key: keys.hmac, alg: "HS256" } });
  noRevB = opaBuild({ revision: "", data: '{"v": 2}', sign: { key: keys.hmac, alg: "HS256" } });
}, 120_000);

const policy = (signed = true) =>
  ({
    bundle: "unused",
    entrypoint: "regate/decision",
    dry_run: false,
    watch_interval_ms: 0,
    eval_timeout_ms: 0,
    ...(signed ? { signing: { required: true, exclude_files: [], allow_rollback: false, keys: { default: { algorithm: "HS256", key: { reveal: () => keys.hmac } } } } } : {}),
  }) as unknown as Config["policy"];

function store(signed = true): PolicyStore {
  const s = new PolicyStore("unused", storeOptions(policy(signed), "regate"));
  stops.push(() => s.close());
  return s;
}

/** Unpacks, lets `edit` change the directory, packs the listed names back with tar. */
function repack(bundle: Buffer, edit: (dir: string) => string[], gzipLevel = 6): Buffer {
  const work = mkdtempSync(join(tmpdir(), "regate-supply-"));
  const x = join(work, "x");
  mkdirSync(x);
  writeFileSync(join(work, "in.tar.gz"), bundle);
  execFileSync("tar", ["-xzf", join(work, "in.tar.gz"), "-C", x], { stdio: "pipe" });
  const names = edit(x);
  execFileSync("tar", ["-cf", join(work, "out.tar"), "-C", x, ...names], { stdio: "pipe" });
  return gzipSync(readFileSync(join(work, "out.tar")), { level: gzipLevel });
}

const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: RegateError) => e);

/**
 * 60 MiB of `{},` in one JSON array: a 60 KB download that JSON.parse turns into ~1.5 GB of objects and 40 s to
 * over 100 s of the thread that serves every connection (measured before the fix, on this 2-core machine).
 */
const BOMB = (mib = 60) => `[${"{},".repeat((mib * 1024 * 1024) / 3)}{}]`;

describe("JSON that costs more to parse than to send", () => {
  it.each([
    { name: "unsigned, data.json a bomb", file: "data.json", keepSignature: false, code: "BUNDLE_UNSIGNED" },
    { name: "unsigned, .manifest a bomb", file: ".manifest", keepSignature: false, code: "BUNDLE_UNSIGNED" },
    { name: "the signed .signatures.json replayed, data.json a bomb", file: "data.json", keepSignature: true, code: "BUNDLE_INVALID" },
    { name: ".signatures.json a bomb", file: ".signatures.json", keepSignature: true, code: "BUNDLE_SIGNATURE_INVALID" },
    { name: "the token's payload a bomb (read before it is verified, for its keyid claim)", file: "jws", keepSignature: true, code: "BUNDLE_SIGNATURE_INVALID" },
  ])("$name: refused within seconds, the signed policy keeps serving", async ({ file, keepSignature, code }) => {
    const s = store();
    await s.install(good, "service");
    const evil = repack(good, (d) => {
      if (file === "jws") {
        const payload = Buffer.from(`{"keyid":"default","files":${BOMB(40)}}`).toString("base64url");
        writeFileSync(join(d, ".signatures.json"), `{"signatures":["${Buffer.from('{"alg":"HS256"}').toString("base64url")}.${payload}.AAAA"]}`);
      } else writeFileSync(join(d, file), BOMB());
      return [".manifest", "policy.wasm", "data.json", "src/policy.rego", ...(keepSignature ? [".signatures.json"] : [])];
    });
    expect(evil.length).toBeLessThan(1024 * 1024);
    const started = Date.now();
    const err = await refusal(s.install(evil, "service"));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect({ code: err?.code, message: err?.message }).toMatchObject({ code, message: expect.stringMatching(/more than \d+ JSON values|signing is required/) });
    expect(s.active?.revision).toBe("good");
    expect(s.status()).toMatchObject({ active_revision: "good", code });
  }, 120_000);

  it("without signing the bomb is refused too, naming the limit", async () => {
    const s = store(false);
    const evil = repack(good, (d) => {
      writeFileSync(join(d, "data.json"), BOMB());
      return [".manifest", "policy.wasm", "data.json"];
    });
    const started = Date.now();
    const err = await refusal(s.install(evil, "service"));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(err).toMatchObject({ code: "BUNDLE_INVALID", message: expect.stringMatching(/more than [\d,]+ JSON values/) });
  }, 120_000);

  it("data.json nested 100,000 deep under a replayed signature: refused with a clear error, not a stack overflow", async () => {
    const s = store();
    await s.install(good, "service");
    const evil = repack(good, (d) => {
      writeFileSync(join(d, "data.json"), `{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}`);
      return [".manifest", "policy.wasm", "data.json", "src/policy.rego", ".signatures.json"];
    });
    const err = await refusal(s.install(evil, "service"));
    expect(err).toMatchObject({ code: "BUNDLE_INVALID", message: expect.stringMatching(/nested deeper than/) });
    expect(s.active?.revision).toBe("good");
  });
});

describe("what is loaded is what was signed", () => {
  it("a lone surrogate escape where the signer wrote U+FFFD hashes the same (as in OPA), and loads as U+FFFD, as OPA loads it", async () => {
    const s = store();
    await s.install(tagged, "service");
    expect(s.active?.evaluate("regate/decision", {})).toMatchObject({ allow: true });
    const swapped = repack(tagged, (d) => {
      writeFileSync(join(d, "data.json"), '{"tag": "\\ud800"}');
      return [".manifest", "policy.wasm", "data.json", "src/policy.rego", ".signatures.json"];
    });
    const other = store();
    await other.install(swapped, "service");
    expect(other.active?.evaluate("regate/decision", {})).toMatchObject({ allow: true });
  });
});

describe("rollback of bundles built without a revision", () => {
  it("an older bundle gzipped again is still the older bundle: refused", async () => {
    const s = store();
    await s.install(noRevA, "service");
    const first = s.active!.revision;
    await s.install(noRevB, "service");
    expect(s.active!.revision).not.toBe(first);
    // The same tar, compressed at another level: other bytes, same signed files.
    const replay = gzipSync(gunzipSync(noRevA), { level: 1 });
    const err = await refusal(s.install(replay, "service"));
    expect(err?.code).toBe("BUNDLE_ROLLBACK");
    expect(readBundle(replay).revision).toBe(first);
  });

  it("a revision remembered from an earlier run is refused even when no bundle is active (the persisted copy did not load)", async () => {
    const s = store();
    s.rememberRevisions(["good"]);
    const err = await refusal(s.install(good, "service"));
    expect(err?.code).toBe("BUNDLE_ROLLBACK");
    expect(s.active).toBeUndefined();
  });
});

describe("names an attacker chose, in errors an operator reads", () => {
  it.each([
    { name: "a file not covered by the signature", edit: (d: string) => (writeFileSync(join(d, "x\u001b[2K\r  last error none\u009b"), "x"), ["x\u001b[2K\r  last error none\u009b"]) },
  ])("$name: control characters are shown escaped, never raw", async ({ edit }) => {
    const s = store();
    await s.install(good, "service");
    const evil = repack(good, (d) => [".manifest", "policy.wasm", "data.json", ".signatures.json", ...edit(d)]);
    const err = await refusal(s.install(evil, "service"));
    expect(err?.code).toBe("BUNDLE_SIGNATURE_INVALID");
    expect(err?.message).toContain("\\u001b[2K\\r");
    expect(err?.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(s.status().message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  it("a kid header naming no configured key", async () => {
    const s = store();
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const evil = repack(good, (d) => {
      writeFileSync(join(d, ".signatures.json"), JSON.stringify({ signatures: [`${b64({ alg: "HS256", kid: "k\u001b]52;c;ZXZpbA==\u0007" })}.${b64({ files: [] })}.AAAA`] }));
      return [".manifest", "policy.wasm", "data.json", ".signatures.json"];
    });
    const err = await refusal(s.install(evil, "service"));
    expect(err?.code).toBe("BUNDLE_SIGNATURE_INVALID");
    expect(err?.message).toContain("\\u001b]52");
    expect(err?.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});

describe("canonical JSON of what a bundle server chose", () => {
  it("a string of 30 MB (a signature's payload, a long value) is read, not a regex stack overflow", () => {
    const long = "A".repeat(30 * 1024 * 1024);
    expect(canonicalJson(`["${long}"]`)).toBe(`["${long}"]`);
  });

  it.each([
    { name: "a bad escape", text: '"\\x"' },
    { name: "an unterminated string", text: '"abc' },
    { name: "a short \\u escape", text: '"\\u12"' },
  ])("refuses $name", ({ text }) => {
    expect(() => canonicalJson(text)).toThrow(/structured bundle file is not valid JSON/);
  });

  it("a key that is a lone surrogate escape and one that is U+FFFD are one key (as Go reads them): the last wins", () => {
    expect(canonicalJson('{"\\ud800": 1, "\\ufffd": 2}')).toBe('{"\ufffd":2}');
  });
});
