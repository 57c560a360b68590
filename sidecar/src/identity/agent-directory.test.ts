import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegateError } from "../errors.js";
import { AgentDirectory } from "./agent-directory.js";

const ISSUER = "https://idp.test";
const AUDIENCE = "regate";

let signingKey: CryptoKey;
let otherKey: CryptoKey;
let jwk: JWK;

beforeAll(async () => {
  const pair = await generateKeyPair("ES256");
  signingKey = pair.privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  otherKey = (await generateKeyPair("ES256")).privateKey;
});

function token(opts: { key?: CryptoKey; iss?: string; aud?: string; exp?: string | number | null; sub?: string | null; claims?: Record<string, unknown> } = {}): Promise<string> {
  const jwt = new SignJWT({ groups: ["support", "readers"], tenant: "acme", ...opts.claims })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuedAt()
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE);
  if (opts.sub !== null) jwt.setSubject(opts.sub ?? "agent-7");
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? "5m");
  return jwt.sign(opts.key ?? signingKey);
}

function directory(jwks: { keys: unknown[] } | { url: string } = { keys: [jwk] }): AgentDirectory {
  return new AgentDirectory({
    tokens: [
      { subject: "support-bot", groups: ["support"], token: "tok-support-0123456789", claims: { team: "cs" } },
      { subject: "billing-bot", groups: ["billing"], token: "tok-billing-0123456789" },
    ],
    jwt: { jwks, issuer: ISSUER, audience: AUDIENCE },
  });
}

describe("AgentDirectory static tokens", () => {
  it.each([
    ["tok-support-0123456789", "support-bot"],
    ["tok-billing-0123456789", "billing-bot"],
    ["tok-billing-012345678", undefined], // a prefix
    ["tok-billing-01234567890", undefined], // an extension
    ["", undefined],
  ])("%j -> %s", async (presented, subject) => {
    const dir = directory();
    expect(dir.staticToken(presented)?.subject).toBe(subject);
    expect((await dir.verify(presented))?.subject).toBe(subject);
  });

  it("builds the principal from configuration, frozen", () => {
    const p = directory().staticToken("tok-support-0123456789")!;
    expect(p).toEqual({ subject: "support-bot", groups: ["support"], claims: { team: "cs" }, auth_method: "token" });
    expect(Object.isFrozen(p.groups)).toBe(true);
  });

  it("refuses a token configured twice and empty tokens", () => {
    expect(() => new AgentDirectory({ tokens: [{ subject: "a", groups: [], token: "same" }, { subject: "b", groups: [], token: "same" }] })).toThrow(RegateError);
    expect(() => new AgentDirectory({ tokens: [{ subject: "a", groups: [], token: "" }] })).toThrow(/non-empty/);
  });

  it("reports why a credential was refused", async () => {
    expect(await directory().authenticate("nope")).toEqual({ failure: "unknown_token" });
    expect(await directory().authenticate("")).toEqual({ failure: "missing" });
  });
});

describe("AgentDirectory JWT", () => {
  it("accepts a valid token and maps sub, groups and claims", async () => {
    const p = await directory().verify(await token());
    expect(p).toMatchObject({ subject: "agent-7", groups: ["support", "readers"], auth_method: "jwt" });
    expect(p?.claims).toMatchObject({ iss: ISSUER, aud: AUDIENCE, tenant: "acme" });
  });

  it("reads groups from a space-separated claim and a custom subject claim", async () => {
    const dir = new AgentDirectory({ tokens: [], jwt: { jwks: { keys: [jwk] }, subject_claim: "client_id", groups_claim: "scope" } });
    const p = await dir.verify(await token({ claims: { client_id: "etl", scope: "read write" } }));
    expect(p).toMatchObject({ subject: "etl", groups: ["read", "write"] });
  });

  it.each([
    ["expired", { exp: Math.floor(Date.now() / 1000) - 60 }, "jwt_expired"],
    ["wrong issuer", { iss: "https://evil.test" }, "jwt_claims"],
    ["wrong audience", { aud: "someone-else" }, "jwt_claims"],
    ["no exp", { exp: null }, "jwt_claims"],
    ["no subject", { sub: null }, "jwt_no_subject"],
  ] as const)("refuses %s", async (_name, opts, failure) => {
    const result = await directory().authenticate(await token(opts));
    expect(result.principal).toBeUndefined();
    expect(result.failure).toBe(failure);
  });

  it("refuses a token signed by another key", async () => {
    const result = await directory().authenticate(await token({ key: otherKey }));
    expect(result).toEqual({ failure: "jwt_signature" });
  });

  it("refuses a tampered payload", async () => {
    const [h, , s] = (await token()).split(".");
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: "admin", exp: 9999999999, iss: ISSUER, aud: AUDIENCE })).toString("base64url")}.${s}`;
    expect((await directory().authenticate(forged)).failure).toBe("jwt_signature");
  });

  it("refuses alg none", async () => {
    const h = Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url");
    const p = Buffer.from(JSON.stringify({ sub: "admin", exp: 9999999999, iss: ISSUER, aud: AUDIENCE })).toString("base64url");
    expect(await directory().verify(`${h}.${p}.x`)).toBeUndefined();
  });

  it("refuses an HS256 token even when the JWKS holds its shared secret (no HMAC secret exists to be guessed)", async () => {
    const secret = new TextEncoder().encode("a-shared-secret-of-32-bytes-long");
    const oct = { kty: "oct", k: Buffer.from(secret).toString("base64url"), kid: "h1", alg: "HS256" };
    const dir = new AgentDirectory({ tokens: [], jwt: { jwks: { keys: [jwk, oct] }, issuer: ISSUER, audience: AUDIENCE } });
    const hs = await new SignJWT({}).setProtectedHeader({ alg: "HS256", kid: "h1" }).setSubject("admin").setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime("5m").sign(secret);
    expect((await dir.authenticate(hs)).principal).toBeUndefined();
  });

  it("does not try JWT verification when none is configured", async () => {
    const dir = new AgentDirectory({ tokens: [] });
    expect(await dir.authenticate(await token())).toEqual({ failure: "unknown_token" });
  });

  it("rejects an unusable JWKS at construction", () => {
    expect(() => new AgentDirectory({ tokens: [], jwt: { jwks: { keys: "nope" as unknown as unknown[] } } })).toThrow(RegateError);
  });

  describe("remote JWKS", () => {
    let server: Server;
    let url: string;
    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url === "/jwks.json") {
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
        } else {
          res.writeHead(404).end();
        }
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it("fetches the keys", async () => {
      expect((await directory({ url: `${url}/jwks.json` }).verify(await token()))?.subject).toBe("agent-7");
    });

    it("treats an unavailable JWKS as a refusal", async () => {
      const result = await directory({ url: `${url}/missing.json` }).authenticate(await token());
      expect(result.principal).toBeUndefined();
      expect(result.failure).toBe("jwks_unavailable");
    });
  });
});
