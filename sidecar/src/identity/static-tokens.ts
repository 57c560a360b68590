import * as crypto from "node:crypto";
import { createHash, timingSafeEqual } from "node:crypto";
import type { Principal } from "../decision/types.js";
import { RegateError } from "../errors.js";
import type { StaticTokenOptions } from "./options.js";

interface Entry {
  digest: Buffer;
  principal: Principal;
}

// The HTTP path hashes the presented token on every request: crypto.hash (Node >= 20.12) digests in one
// call, without a Hash object each time; the same digest as createHash on older Nodes.
const sha256: (s: string) => Buffer =
  typeof crypto.hash === "function" ? (s) => crypto.hash("sha256", s, "buffer") : (s) => createHash("sha256").update(s, "utf8").digest();

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Static per-agent tokens. Tokens are compared as SHA-256 digests with timingSafeEqual against every
 * configured entry, with no early exit: comparing fixed-length digests hides the token's length, and
 * visiting every entry hides which one (if any) matched.
 */
export class StaticTokens {
  readonly #entries: readonly Entry[];

  constructor(tokens: readonly StaticTokenOptions[], minChars = 1) {
    const seen = new Set<string>();
    const entries: Entry[] = [];
    for (const [i, t] of tokens.entries()) {
      if (typeof t.subject !== "string" || t.subject === "") {
        throw new RegateError("CONFIG_INVALID", `agent token #${i}: subject must be a non-empty string`);
      }
      if (typeof t.token !== "string" || t.token === "") {
        throw new RegateError("CONFIG_INVALID", `agent token for ${t.subject}: token must be a non-empty string`);
      }
      if (t.token.length < minChars) {
        // Said without the token or its length: the message is logged.
        throw new RegateError("CONFIG_INVALID", `agent token for ${t.subject}: shorter than ${minChars} characters, guessable through the Postgres and HTTP listeners; give ${t.subject} a random one (openssl rand -base64 24)`);
      }
      const digest = sha256(t.token);
      const hex = digest.toString("hex");
      if (seen.has(hex)) {
        // Two agents sharing a token could not be told apart.
        throw new RegateError("CONFIG_INVALID", `agent token for ${t.subject}: the same token is configured twice`);
      }
      seen.add(hex);
      entries.push({
        digest,
        // Frozen and shared: a principal is read-only data for the input document.
        principal: deepFreeze({
          subject: t.subject,
          groups: [...(t.groups ?? [])],
          claims: structuredClone(t.claims ?? {}),
          auth_method: "token",
        }),
      });
    }
    this.#entries = Object.freeze(entries);
  }

  get size(): number {
    return this.#entries.length;
  }

  lookup(token: string): Principal | undefined {
    const presented = sha256(token);
    let match: Principal | undefined;
    for (const e of this.#entries) {
      const equal = timingSafeEqual(e.digest, presented);
      if (equal && match === undefined) match = e.principal;
    }
    return match;
  }
}
