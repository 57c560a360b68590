import { constants, createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from "node:crypto";
import { RegateError } from "../errors.js";
import { jsonBudget, parseBounded, SMALL_JSON_VALUES } from "./canonical-json.js";
import { shown } from "./shown.js";

/** Algorithms a bundle signature may use; the configured key fixes which one (no `alg` from the token). */
export const JWS_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

export interface VerificationKey {
  algorithm: JwsAlgorithm;
  /** PEM (public key, certificate or private key) for RS/PS/ES; the shared secret for HS. */
  key: string;
}

export interface DecodedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

const fail = (message: string, cause?: unknown) => new RegateError("BUNDLE_SIGNATURE_INVALID", message, cause === undefined ? undefined : { cause });

/** Reads a compact JWS without verifying it: the key id may be inside. */
export function decodeJws(token: string): DecodedJws & { signingInput: string; signature: Buffer } {
  const parts = token.split(".");
  if (parts.length !== 3) throw fail("bundle signature is not a compact JWS");
  const [h, p, s] = parts as [string, string, string];
  // Bounded: read before the signature is verified (the payload's keyid claim may name the key). A header is a few
  // values; a payload lists every file of the bundle, so it gets the budget of a bundle's data.
  const json = (part: string, what: "header" | "payload"): Record<string, unknown> => {
    try {
      const v = parseBounded(Buffer.from(part, "base64url").toString("utf8"), jsonBudget(what === "header" ? SMALL_JSON_VALUES : undefined));
      if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch (cause) {
      throw fail(`bundle signature ${what} is not valid JSON${cause instanceof RegateError ? ` (${cause.message})` : ""}`, cause);
    }
    throw fail(`bundle signature ${what} is not a JSON object`);
  };
  return { header: json(h, "header"), payload: json(p, "payload"), signingInput: `${h}.${p}`, signature: Buffer.from(s, "base64url") };
}

/** Verifies a compact JWS with a configured key. The header's alg must be the key's algorithm. */
export function verifyJws(token: string, key: VerificationKey): DecodedJws {
  const jws = decodeJws(token);
  if (jws.header["alg"] !== key.algorithm) {
    throw fail(`bundle signature uses ${shown(String(jws.header["alg"]))}, the key is configured for ${key.algorithm}`);
  }
  const bits = key.algorithm.slice(2);
  const hash = `sha${bits}`;
  const input = Buffer.from(jws.signingInput, "ascii");
  let ok: boolean;
  if (key.algorithm.startsWith("HS")) {
    const mac = createHmac(hash, Buffer.from(key.key, "utf8")).update(input).digest();
    ok = mac.length === jws.signature.length && timingSafeEqual(mac, jws.signature);
  } else {
    let pub: KeyObject;
    try {
      pub = createPublicKey(key.key);
    } catch (cause) {
      throw fail("bundle verification key is not a PEM key", cause);
    }
    const family = key.algorithm.startsWith("ES") ? "ec" : "rsa";
    if (pub.asymmetricKeyType !== family && !(family === "rsa" && pub.asymmetricKeyType === "rsa-pss")) {
      throw fail(`bundle verification key is ${pub.asymmetricKeyType ?? "unknown"}, ${key.algorithm} needs ${family}`);
    }
    const opts = key.algorithm.startsWith("ES")
      ? { key: pub, dsaEncoding: "ieee-p1363" as const }
      : key.algorithm.startsWith("PS")
        ? { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 }
        : { key: pub };
    try {
      ok = verify(hash, input, opts, jws.signature);
    } catch (cause) {
      throw fail("bundle signature does not verify", cause);
    }
  }
  if (!ok) throw fail("bundle signature does not verify");
  return { header: jws.header, payload: jws.payload };
}
