// Builds and signs bundles with the real, pinned opa CLI (.bin/opa) for the bundle tests.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../../src/paths.js";

export const OPA = join(packageRoot, ".bin", "opa");
export const CAPABILITIES = join(packageRoot, "testdata", "opa", "wasm-capabilities.json");

export interface Keys {
  dir: string;
  rsaPrivate: string;
  rsaPublic: string;
  ecPrivate: string;
  ecPublic: string;
  hmac: string;
}

/** Fresh RSA and P-256 key pairs (PEM files in a temp dir) and an HMAC secret. */
export function makeKeys(): Keys {
  const dir = mkdtempSync(join(tmpdir(), "regate-keys-"));
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const write = (name: string, pem: string) => {
    writeFileSync(join(dir, name), pem, { mode: 0o600 });
    return join(dir, name);
  };
  return {
    dir,
    rsaPrivate: write("rsa.pem", rsa.privateKey.export({ type: "pkcs8", format: "pem" }).toString()),
    rsaPublic: write("rsa.pub.pem", rsa.publicKey.export({ type: "spki", format: "pem" }).toString()),
    ecPrivate: write("ec.pem", ec.privateKey.export({ type: "sec1", format: "pem" }).toString()),
    ecPublic: write("ec.pub.pem", ec.publicKey.export({ type: "spki", format: "pem" }).toString()),
    hmac: "a shared secret for HS256 bundle signing",
  };
}

export const ALLOW = 'package regate\n\ndecision := {"allow": true, "deny": [], "mask": []}\n';
export const DENY = 'package regate\n\ndecision := {"allow": false, "deny": ["closed by the new policy"], "mask": []}\n';

export interface BuildOptions {
  revision: string;
  rego?: string;
  /** data.json text, written as given (JSON edge cases survive to the signature). */
  data?: string;
  /** --signing-key (a PEM path or an HMAC secret) with --signing-alg. */
  /** `claims` replace opa's default payload extras (its `kid: default` header goes away with them). */
  sign?: { key: string; alg: string; claims?: Record<string, unknown> };
}

/** `opa build -t wasm` (signed with --signing-key when asked); returns the tarball bytes. */
export function opaBuild(opts: BuildOptions): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "regate-bundle-"));
  const src = join(dir, "src");
  mkdirSync(src);
  writeFileSync(join(src, "policy.rego"), opts.rego ?? ALLOW);
  if (opts.data !== undefined) writeFileSync(join(src, "data.json"), opts.data);
  const out = join(dir, "bundle.tar.gz");
  const args = ["build", "-t", "wasm", "-e", "regate/decision", "--capabilities", CAPABILITIES, "-r", opts.revision, "-b", "src", "-o", out];
  if (opts.sign) {
    args.push("--signing-key", opts.sign.key, "--signing-alg", opts.sign.alg);
    if (opts.sign.claims) {
      const claims = join(dir, "claims.json");
      writeFileSync(claims, JSON.stringify(opts.sign.claims));
      args.push("--claims-file", claims);
    }
  }
  // Run in the temp dir: rego files are stored under the path given, here src/policy.rego.
  execFileSync(OPA, args, { stdio: "pipe", cwd: dir });
  return readFileSync(out);
}

/** Unpacks with tar, runs `edit` on the directory, repacks with tar: a bundle changed after signing. */
export function tamper(bundle: Buffer, edit: (dir: string) => void): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "regate-tamper-"));
  writeFileSync(join(dir, "in.tar.gz"), bundle);
  mkdirSync(join(dir, "x"));
  execFileSync("tar", ["-xzf", join(dir, "in.tar.gz"), "-C", join(dir, "x")], { stdio: "pipe" });
  edit(join(dir, "x"));
  execFileSync("tar", ["-czf", join(dir, "out.tar.gz"), "-C", join(dir, "x"), "."], { stdio: "pipe" });
  return readFileSync(join(dir, "out.tar.gz"));
}

/** `opa build -t wasm` of rego files (name -> text) with the given entrypoints, into a fresh temp dir; returns the path. */
export function wasmBundle(revision: string, files: Record<string, string>, entrypoints: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "regate-wasm-"));
  const src = join(dir, "src");
  mkdirSync(src);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(src, name), text);
  const out = join(dir, "bundle.tar.gz");
  const args = ["build", "-t", "wasm", ...entrypoints.flatMap((e) => ["-e", e]), "--capabilities", CAPABILITIES, "-r", revision, "-o", out, "src"];
  execFileSync(OPA, args, { stdio: "pipe", cwd: dir, timeout: 120_000 });
  return out;
}
