import { createHmac, generateKeyPairSync, sign as cryptoSign, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifyJws, type JwsAlgorithm } from "../../src/policy/index.js";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const pem = (k: KeyObject) => k.export({ type: "spki", format: "pem" }).toString();
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** A compact JWS made with node:crypto alone. */
function token(alg: string, signer: (input: Buffer) => Buffer, payload: unknown = { files: [] }): string {
  const input = `${b64({ alg, typ: "JWT" })}.${b64(payload)}`;
  return `${input}.${signer(Buffer.from(input)).toString("base64url")}`;
}
const rs256 = (k: KeyObject) => (i: Buffer) => cryptoSign("sha256", i, k);
const es256 = (k: KeyObject) => (i: Buffer) => cryptoSign("sha256", i, { key: k, dsaEncoding: "ieee-p1363" });
const hs256 = (secret: string) => (i: Buffer) => createHmac("sha256", secret).update(i).digest();

describe("JWS verification (node:crypto)", () => {
  const cases: { name: string; token: string; alg: JwsAlgorithm; key: string; ok: boolean; error?: RegExp }[] = [
    { name: "RS256 with the right key", token: token("RS256", rs256(rsa.privateKey)), alg: "RS256", key: pem(rsa.publicKey), ok: true },
    { name: "RS256 with another key", token: token("RS256", rs256(otherRsa.privateKey)), alg: "RS256", key: pem(rsa.publicKey), ok: false, error: /does not verify/ },
    { name: "ES256 (P-256, r||s)", token: token("ES256", es256(ec.privateKey)), alg: "ES256", key: pem(ec.publicKey), ok: true },
    { name: "HS256 with the secret", token: token("HS256", hs256("s3cret")), alg: "HS256", key: "s3cret", ok: true },
    { name: "HS256 with another secret", token: token("HS256", hs256("s3cret")), alg: "HS256", key: "other", ok: false, error: /does not verify/ },
    // Algorithm confusion: an HMAC made with the RSA public key's PEM as secret must not pass as RS256.
    { name: "HS256 token against an RS256 key", token: token("HS256", hs256(pem(rsa.publicKey))), alg: "RS256", key: pem(rsa.publicKey), ok: false, error: /uses HS256/ },
    { name: "alg none", token: `${b64({ alg: "none" })}.${b64({ files: [] })}.`, alg: "RS256", key: pem(rsa.publicKey), ok: false, error: /uses none/ },
    { name: "ES256 token with an RSA key configured as ES256", token: token("ES256", es256(ec.privateKey)), alg: "ES256", key: pem(rsa.publicKey), ok: false, error: /needs ec/ },
    { name: "not three parts", token: "abc.def", alg: "RS256", key: pem(rsa.publicKey), ok: false, error: /compact JWS/ },
  ];
  it.each(cases)("$name", (c) => {
    const run = () => verifyJws(c.token, { algorithm: c.alg, key: c.key });
    if (c.ok) expect(run().payload).toEqual({ files: [] });
    else expect(run).toThrow(c.error);
  });

  it("a payload changed after signing is refused", () => {
    const good = token("RS256", rs256(rsa.privateKey), { files: [], scope: "read" });
    const [h, , s] = good.split(".");
    const forged = `${h}.${b64({ files: [], scope: "write" })}.${s}`;
    expect(() => verifyJws(forged, { algorithm: "RS256", key: pem(rsa.publicKey) })).toThrow(/does not verify/);
  });
});
