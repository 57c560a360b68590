import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readBundle, verifyBundleSignature, type SigningOptions } from "../../src/policy/index.js";
import { makeKeys, opaBuild, tamper, type Keys } from "./opa.js";

// JSON edge cases a signature must survive: numbers kept as written, escapes Go writes differently from
// JSON.stringify (<, &, U+2028), \b and \f, non-ASCII keys sorted by their UTF-8 bytes, nesting, empties.
const EDGE_DATA = String.raw`{
  "edge": {
    "float_one": 1.0, "exp": 1e2, "neg_zero": -0, "big": 12345678901234567890123,
    "html": "<a href='x'>&amp;</a>", "line_sep": "a\u2028b\u2029c", "ctl": "\b\f\n\r\t\u0001\u007f",
    "astral": "\ud83d\ude00", "keys": {"é": 1, "z": 2, "a": 3, "\ud83d\ude00": 4, "ｚ": 5},
    "empty": {}, "list": [[], {}, null, true, false, ""]
  }
}`;

const keys: Keys = makeKeys();
const signed: Record<string, Buffer> = {};

beforeAll(() => {
  signed["rs256"] = opaBuild({ revision: "r1", data: EDGE_DATA, sign: { key: keys.rsaPrivate, alg: "RS256" } });
  signed["es256"] = opaBuild({ revision: "r1", data: EDGE_DATA, sign: { key: keys.ecPrivate, alg: "ES256" } });
  signed["hs256"] = opaBuild({ revision: "r1", data: EDGE_DATA, sign: { key: keys.hmac, alg: "HS256" } });
  signed["scoped"] = opaBuild({ revision: "r1", sign: { key: keys.rsaPrivate, alg: "RS256", claims: { keyid: "ci", scope: "write", iat: 1_700_000_000 } } });
  signed["unsigned"] = opaBuild({ revision: "r1", data: EDGE_DATA });
}, 120_000);

const opts = (o: Partial<SigningOptions> = {}): SigningOptions => ({
  required: true,
  exclude_files: [],
  keys: {
    default: { algorithm: "RS256", key: readFileSync(keys.rsaPublic, "utf8") },
    ec: { algorithm: "ES256", key: readFileSync(keys.ecPublic, "utf8") },
    hmac: { algorithm: "HS256", key: keys.hmac },
    ci: { algorithm: "RS256", key: readFileSync(keys.rsaPublic, "utf8"), scope: "write" },
  },
  ...o,
});
const verify = (name: string, o?: Partial<SigningOptions>) => verifyBundleSignature(readBundle(signed[name]!).files, opts(o));

describe("bundles signed by opa build --signing-key", () => {
  it.each([
    { name: "RS256, kid from the token header", bundle: "rs256", o: {}, keyid: "default" },
    { name: "ES256, keyid from config", bundle: "es256", o: { keyid: "ec" }, keyid: "ec" },
    { name: "HS256, keyid from config", bundle: "hs256", o: { keyid: "hmac" }, keyid: "hmac" },
    { name: "keyid and scope claims, scope from the key", bundle: "scoped", o: {}, keyid: "ci" },
  ])("load: $name", ({ bundle, o, keyid }) => {
    expect(verify(bundle, o)?.keyid).toBe(keyid);
  });

  it("reports the signing time from the iat claim", () => {
    expect(verify("scoped")).toEqual({ keyid: "ci", issued_at: 1_700_000_000, files: expect.any(Number) });
  });

  it.each([
    { name: "a key whose scope the token lacks", bundle: "rs256", o: { keyid: "ci" }, error: /scope does not match/ },
    { name: "an EC key configured as RS256", bundle: "rs256", o: { keys: { default: { algorithm: "RS256" as const, key: readFileSync(keys.ecPublic, "utf8") } } }, error: /needs rsa/ },
    { name: "a key of another algorithm", bundle: "es256", o: { keyid: "default" }, error: /uses ES256, the key is configured for RS256/ },
    { name: "the wrong HMAC secret", bundle: "hs256", o: { keys: { default: { algorithm: "HS256" as const, key: "wrong" } } }, error: /does not verify/ },
    { name: "an unknown key id", bundle: "rs256", o: { keyid: "nope" }, error: /key nope is not configured/ },
    { name: "a scope that does not match", bundle: "scoped", o: { scope: "read" }, error: /scope does not match/ },
  ])("refused with $name", ({ bundle, o, error }) => {
    expect(() => verify(bundle, o)).toThrow(error);
  });

  it("unsigned: refused when signing is required, whatever the keyid configuration", () => {
    for (const keyid of [undefined, "default", "hmac"]) {
      expect(() => verify("unsigned", keyid ? { keyid } : {})).toThrow(expect.objectContaining({ code: "BUNDLE_UNSIGNED" }));
    }
    expect(verify("unsigned", { required: false })).toBeUndefined();
  });

  const alterations: { name: string; edit: (dir: string) => void; error: RegExp }[] = [
    { name: "data.json value changed", edit: (d) => writeFileSync(join(d, "data.json"), readFileSync(join(d, "data.json"), "utf8").replace('"exp":1e2', '"exp":1e3')), error: /data.json does not match/ },
    { name: "a number rewritten (1.0 -> 1)", edit: (d) => writeFileSync(join(d, "data.json"), readFileSync(join(d, "data.json"), "utf8").replace('"float_one":1.0', '"float_one":1')), error: /data.json does not match/ },
    { name: "policy.wasm swapped for other bytes", edit: (d) => writeFileSync(join(d, "policy.wasm"), Buffer.concat([readFileSync(join(d, "policy.wasm")), Buffer.from([0])])), error: /policy.wasm does not match/ },
    { name: "a file added", edit: (d) => writeFileSync(join(d, "extra.rego"), "package extra\n"), error: /extra.rego is not covered/ },
    { name: "manifest revision changed", edit: (d) => writeFileSync(join(d, ".manifest"), readFileSync(join(d, ".manifest"), "utf8").replace('"r1"', '"r9"')), error: /.manifest does not match/ },
  ];
  it.each(alterations)("altered after signing ($name): refused", ({ edit, error }) => {
    const bundle = tamper(signed["rs256"]!, edit);
    expect(() => verifyBundleSignature(readBundle(bundle).files, opts())).toThrow(error);
  });

  it("re-indented data.json with keys reordered still verifies (the digest is over canonical JSON)", () => {
    const bundle = tamper(signed["rs256"]!, (d) => {
      const text = readFileSync(join(d, "data.json"), "utf8");
      // Reverse top-level key order of the edge object by hand and add whitespace; numbers stay as written.
      writeFileSync(join(d, "data.json"), text.replace("{", "{\n  ").replace(/,/g, ",\n  "));
    });
    expect(verifyBundleSignature(readBundle(bundle).files, opts())?.keyid).toBe("default");
  });

  it("exclude_files: an excluded file may change or be added after signing", () => {
    const bundle = tamper(signed["rs256"]!, (d) => {
      writeFileSync(join(d, "notes.txt"), "added after signing");
      writeFileSync(join(d, "src", "policy.rego"), "# changed after signing\n");
    });
    expect(() => verifyBundleSignature(readBundle(bundle).files, opts({ exclude_files: ["notes.txt"] }))).toThrow(/src\/policy.rego does not match/);
    expect(verifyBundleSignature(readBundle(bundle).files, opts({ exclude_files: ["notes.txt", "src/policy.rego"] }))?.keyid).toBe("default");
  });

  it("a file the signature lists but the bundle lacks: refused", () => {
    const bundle = tamper(signed["scoped"]!, (d) => rmSync(join(d, "src", "policy.rego")));
    expect(() => verifyBundleSignature(readBundle(bundle).files, opts())).toThrow(/signature lists files the bundle lacks: src\/policy.rego/);
  });
});
