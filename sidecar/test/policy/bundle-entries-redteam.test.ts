// Whoever answers for the bundle server (or sits in front of a plain-http one) tries to stop the process or
// swap the policy through what the poll does with its answers. Judged by the policy that decides afterwards
// (the signed deny must still deny) and by the process living on to poll again.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../src/config/index.js";
import type { RegateError } from "../../src/errors.js";
import { BundleDownloader, PolicyStore, readBundle } from "../../src/policy/index.js";
import { storeOptions } from "../../src/policy/source.js";
import { ALLOW, DENY, makeKeys, opaBuild, tamper } from "./opa.js";

const keys = makeKeys();
let deny: Buffer;
let signedDeny: Buffer;
let allowWasm: Buffer;
beforeAll(() => {
  deny = opaBuild({ revision: "deny-v1", rego: DENY });
  signedDeny = opaBuild({ revision: "signed-deny", rego: DENY, sign: { key: keys.hmac, alg: "HS256" } });
  allowWasm = Buffer.from(readBundle(opaBuild({ revision: "allow", rego: ALLOW })).wasm);
}, 120_000);

const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

async function listen(s: Server): Promise<string> {
  stops.push(() => s.close());
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

async function until(what: () => boolean): Promise<void> {
  while (!what()) await new Promise((r) => setTimeout(r, 20));
}

describe("a redirect to a scheme that is not http(s)", () => {
  it.each(["ftp://bundles.example/regate.tar.gz", "file:///etc/passwd", "data:application/gzip;base64,H4sI"])(
    "Location %s: a failed poll that names the scheme; the process lives on, polls again, and the signed deny still decides",
    async (location) => {
      let requests = 0;
      const base = await listen(
        createServer((_req, res) => {
          requests++;
          if (requests === 1) res.writeHead(200, { etag: '"v1"', "content-type": "application/gzip" }).end(deny);
          else res.writeHead(302, { location }).end();
        }),
      );
      const store = new PolicyStore("unused");
      const errors: string[] = [];
      // A short request deadline: before the fix, the deadline armed for a request Node refused to build fired
      // after the poll had failed, and threw from a timer (an uncaught ReferenceError ends the process).
      const dl = new BundleDownloader(store, { url: `${base}/b.tar.gz`, minDelayMs: 200, maxDelayMs: 200, longPollSeconds: 0, requestTimeoutMs: 20 }, (e) => errors.push(e.message));
      stops.push(() => dl.stop(), () => store.close());
      await dl.start();
      expect(store.active?.revision).toBe("deny-v1");
      // The refused redirect, then the next poll after backoff: well past the 20 ms deadline of the first.
      await until(() => requests >= 3);
      const scheme = new URL(location).protocol;
      expect(errors[0]).toBe(`bundle server redirected to ${scheme}, which is not http or https, for ${base}/b.tar.gz`);
      expect(store.status()).toMatchObject({ active_revision: "deny-v1", code: "BUNDLE_DOWNLOAD_FAILED" });
      expect(store.active?.evaluate("regate/decision", {})).toMatchObject({ allow: false, deny: ["closed by the new policy"] });
    },
    30_000,
  );
});

/** A ustar header block, checksummed, as tar writes one. */
function header(name: string, size: number, type: string, link = ""): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write("0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  h.write("00000000000\0", 136);
  h.write(type, 156);
  h.write(link, 157);
  h.write("ustar\0", 257);
  h.write("00", 263);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}
const padded = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
const entry = (name: string, body: Buffer, type = "0") => Buffer.concat([header(name, body.length, type), padded(body)]);
const paxRecord = (key: string, value: string) => {
  const rest = ` ${key}=${value}\n`;
  let n = rest.length + 1;
  while (`${n}${rest}`.length !== n) n++;
  return `${n}${rest}`;
};
const pax = (...records: string[]) => entry("PaxHeader", Buffer.from(records.join("")), "x");

/** The signed tar's entries as written by opa, end-of-archive blocks left off. */
function signedEntries(): Buffer {
  const tar = gunzipSync(signedDeny);
  let at = 0;
  while (!tar.subarray(at, at + 512).every((b) => b === 0)) at += 512 + Math.ceil(parseInt(tar.subarray(at + 124, at + 135).toString("latin1"), 8) / 512) * 512;
  return tar.subarray(0, at);
}
const END = Buffer.alloc(1024);

const policy = {
  bundle: "unused",
  entrypoint: "regate/decision",
  dry_run: false,
  watch_interval_ms: 0,
  eval_timeout_ms: 0,
  signing: { required: true, exclude_files: [], allow_rollback: false, keys: { default: { algorithm: "HS256", key: { reveal: () => keys.hmac } } } },
} as unknown as Config["policy"];

async function signedStore(): Promise<PolicyStore> {
  const s = new PolicyStore("unused", storeOptions(policy, "regate"));
  stops.push(() => s.close());
  await s.install(signedDeny, "service");
  return s;
}

describe("tar content the signature check never saw", () => {
  // Each carries the allow-all module where no signature covers it. This reader skipped it, but the bundle was
  // then persisted as the last good one with it inside: GNU tar unpacks a contiguous file as a regular one, and a
  // reader that goes on past a lone zero block or into a second gzip member finds the other policy.wasm.
  it.each([
    { name: "a GNU contiguous file (type 7) named policy.wasm", gz: () => gzipSync(Buffer.concat([signedEntries(), entry("policy.wasm", allowWasm, "7"), END])), message: "bundle entry policy.wasm is of tar type 7, not a regular file or directory" },
    { name: "a policy.wasm after a single zero block", gz: () => gzipSync(Buffer.concat([signedEntries(), Buffer.alloc(512), entry("policy.wasm", allowWasm), END])), message: "bundle tarball has data after its end-of-archive block" },
    { name: "a second gzip member holding a policy.wasm", gz: () => Buffer.concat([signedDeny, gzipSync(Buffer.concat([entry("policy.wasm", allowWasm), END]))]), message: "bundle tarball has data after its end-of-archive block" },
    { name: "a pax size record that other readers apply and this one did not", gz: () => gzipSync(Buffer.concat([pax(paxRecord("size", "0")), signedEntries(), END])), message: "bundle tarball has a pax size record, which this reader does not apply" },
    { name: "a global pax header naming a path", gz: () => gzipSync(Buffer.concat([entry("GlobalHead", Buffer.from(paxRecord("path", "policy.wasm")), "g"), signedEntries(), END])), message: "bundle tarball has a global pax header naming a path" },
  ])("$name: refused, the signed deny keeps deciding", async ({ gz, message }) => {
    const s = await signedStore();
    const err = await s.install(gz(), "service").then(() => undefined, (e: RegateError) => e);
    expect({ code: err?.code, message: err?.message }).toEqual({ code: "BUNDLE_INVALID", message });
    expect(s.status()).toMatchObject({ active_revision: "signed-deny", code: "BUNDLE_INVALID", message });
    expect(s.active?.evaluate("regate/decision", {})).toMatchObject({ allow: false });
  });

  it("must still load: the signed bundle repacked by GNU tar in pax format, with directory entries", async () => {
    const dir = mkdtempSync(join(tmpdir(), "regate-entries-"));
    mkdirSync(join(dir, "x"));
    writeFileSync(join(dir, "in.tar.gz"), signedDeny);
    execFileSync("tar", ["-xzf", join(dir, "in.tar.gz"), "-C", join(dir, "x")], { stdio: "pipe" });
    execFileSync("tar", ["--format=pax", "-czf", join(dir, "out.tar.gz"), "-C", join(dir, "x"), "."], { stdio: "pipe" });
    const s = new PolicyStore("unused", storeOptions(policy, "regate"));
    stops.push(() => s.close());
    await s.install(readFileSync(join(dir, "out.tar.gz")), "service");
    expect(s.active?.revision).toBe("signed-deny");
  });
});

describe("a revision that would rewrite an operator's terminal", () => {
  // The revision is printed raw by `regate status` and in errors; in an unsigned bundle anyone who can write
  // the file or answer for the server chooses it.
  it.each([
    { name: "an OSC 52 clipboard write and a screen clear", revision: "v2\u001b]52;c;ZXZpbA==\u0007\u001b[2J" },
    { name: "a right-to-left override", revision: "v2\u202eedoc" },
    { name: "a C1 CSI", revision: "v2\u009b2K" },
  ])("$name: refused naming it escaped; the bundle active before keeps deciding", async ({ revision }) => {
    const s = new PolicyStore("unused");
    stops.push(() => s.close());
    await s.install(deny, "service");
    const err = await s.install(opaBuild({ revision, rego: ALLOW }), "service").then(() => undefined, (e: RegateError) => e);
    expect(err?.code).toBe("BUNDLE_INVALID");
    expect(err?.message).toMatch(/^bundle \.manifest revision ".*" holds control or invisible characters$/);
    expect(err?.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(s.status()).toMatchObject({ active_revision: "deny-v1", code: "BUNDLE_INVALID" });
    expect(s.active?.evaluate("regate/decision", {})).toMatchObject({ allow: false });
  });
});

describe("exclude_files naming a file that decides", () => {
  // An operator excludes files the bundle server adds or rewrites after signing. Listing the module, the
  // manifest or a data.json there left it unsigned: whoever answers for the server swapped in an allow-all
  // module (or data a policy reads) and the signature still checked.
  const withExclusions = (exclude_files: string[]) => ({ ...policy, signing: { ...policy.signing!, exclude_files } }) as Config["policy"];
  it.each([
    { name: "the module", exclude: ["policy.wasm"], edit: (d: string) => writeFileSync(join(d, "policy.wasm"), allowWasm), file: "policy.wasm" },
    { name: "the module, named with a leading slash", exclude: ["/policy.wasm"], edit: (d: string) => writeFileSync(join(d, "policy.wasm"), allowWasm), file: "policy.wasm" },
    { name: "a data.json", exclude: ["data.json"], edit: (d: string) => writeFileSync(join(d, "data.json"), '{"unsigned": true}'), file: "data.json" },
    { name: "a nested data.json", exclude: ["tables/data.json"], edit: (d: string) => (mkdirSync(join(d, "tables")), writeFileSync(join(d, "tables", "data.json"), '{"x": 1}')), file: "tables/data.json" },
    { name: "the manifest", exclude: [".manifest"], edit: (d: string) => writeFileSync(join(d, ".manifest"), '{"revision": "swapped"}'), file: ".manifest" },
  ])("$name: the bundle is refused, saying which file and what to change; nothing is activated", async ({ exclude, edit, file }) => {
    const s = new PolicyStore("unused", storeOptions(withExclusions(exclude), "regate"));
    stops.push(() => s.close());
    const err = await s.install(tamper(signedDeny, edit), "service").then(() => undefined, (e: RegateError) => e);
    expect(err?.code).toBe("BUNDLE_INVALID");
    expect(err?.message).toBe(`bundle file ${file} decides what the policy does, so policy.signing.exclude_files cannot leave it unsigned; remove it from exclude_files`);
    expect(s.active).toBeUndefined();
    expect(s.status()).toMatchObject({ code: "BUNDLE_INVALID" });
  });

  it("must still load: an excluded file regate never reads may be added after signing", async () => {
    const s = new PolicyStore("unused", storeOptions(withExclusions(["README.md"]), "regate"));
    stops.push(() => s.close());
    await s.install(tamper(signedDeny, (d) => writeFileSync(join(d, "README.md"), "added by the server")), "service");
    expect(s.active?.revision).toBe("signed-deny");
  });
});
