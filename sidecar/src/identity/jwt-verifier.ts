import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import type { Principal } from "../decision/types.js";
import { RegateError } from "../errors.js";
import type { JwtOptions } from "./options.js";

/** Why a JWT was refused: logged (never shown to the agent, never containing the token). */
export type JwtFailure =
  | "jwt_expired"
  | "jwt_claims"
  | "jwt_signature"
  | "jwt_no_key"
  | "jwks_unavailable"
  | "jwt_no_subject"
  | "jwt_invalid";

/**
 * The keys come from a JWKS, which is public: only asymmetric algorithms make sense, and listing them
 * rules out algorithm-confusion tricks (an HMAC "signed" with a public key).
 */
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

type KeySet = ReturnType<typeof createLocalJWKSet> | ReturnType<typeof createRemoteJWKSet>;

export class JwtVerifier {
  readonly #keys: KeySet;
  readonly #issuer: string | undefined;
  readonly #audience: string | undefined;
  readonly #subjectClaim: string;
  readonly #groupsClaim: string;

  constructor(opts: JwtOptions) {
    try {
      if ("url" in opts.jwks) {
        this.#keys = createRemoteJWKSet(new URL(opts.jwks.url), { timeoutDuration: 5000 });
      } else {
        this.#keys = createLocalJWKSet(opts.jwks as JSONWebKeySet);
      }
    } catch (cause) {
      throw new RegateError("CONFIG_INVALID", "jwt.jwks is not a usable JWKS or URL", { cause });
    }
    this.#issuer = opts.issuer;
    this.#audience = opts.audience;
    this.#subjectClaim = opts.subject_claim ?? "sub";
    this.#groupsClaim = opts.groups_claim ?? "groups";
  }

  async verify(token: string): Promise<{ principal: Principal } | { failure: JwtFailure }> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys, {
        algorithms: ALGORITHMS,
        ...(this.#issuer === undefined ? {} : { issuer: this.#issuer }),
        ...(this.#audience === undefined ? {} : { audience: this.#audience }),
        // A token that never expires is a static token nobody can revoke: refuse it.
        requiredClaims: ["exp"],
      }));
    } catch (err) {
      return { failure: classify(err) };
    }
    const subject = payload[this.#subjectClaim];
    if (typeof subject !== "string" || subject === "") return { failure: "jwt_no_subject" };
    return {
      principal: {
        subject,
        groups: groupsOf(payload[this.#groupsClaim]),
        claims: payload as Record<string, unknown>,
        auth_method: "jwt",
      },
    };
  }
}

function groupsOf(claim: unknown): string[] {
  if (typeof claim === "string") return claim.split(/\s+/).filter((g) => g !== "");
  if (Array.isArray(claim)) return claim.filter((g): g is string => typeof g === "string");
  return [];
}

function classify(err: unknown): JwtFailure {
  if (err instanceof errors.JWTExpired) return "jwt_expired";
  if (err instanceof errors.JWTClaimValidationFailed) return "jwt_claims";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "jwt_signature";
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return "jwt_no_key";
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return "jwks_unavailable";
  if (err instanceof TypeError || (err as { code?: unknown })?.code === "ERR_JOSE_GENERIC") return "jwks_unavailable";
  return "jwt_invalid";
}
