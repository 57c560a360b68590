import type { Principal } from "../decision/types.js";
import { JwtVerifier, type JwtFailure } from "./jwt-verifier.js";
import type { LoginGuard } from "./login-throttle.js";
import type { AgentDirectoryOptions } from "./options.js";
import { StaticTokens } from "./static-tokens.js";

export type AuthFailure = "missing" | "unknown_token" | JwtFailure;

export type AuthResult = { principal: Principal; failure?: undefined } | { principal?: undefined; failure: AuthFailure };

/** Three base64url parts, the first starting with '{"' encoded. */
const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Who the agent is, for the Postgres and HTTP paths alike: static tokens first, then JWTs. */
export class AgentDirectory {
  readonly #tokens: StaticTokens;
  readonly #jwt: JwtVerifier | undefined;
  /** Failed logins, counted by the adapters before and after they authenticate (login-throttle.ts); none: unlimited. */
  throttle: LoginGuard | undefined;

  constructor(opts: AgentDirectoryOptions) {
    this.#tokens = new StaticTokens(opts.tokens ?? [], opts.minTokenChars);
    this.#jwt = opts.jwt ? new JwtVerifier(opts.jwt) : undefined;
  }

  /** Constant-time lookup of a static token. */
  staticToken(token: string): Principal | undefined {
    return this.#tokens.lookup(token);
  }

  async verify(credential: string): Promise<Principal | undefined> {
    return (await this.authenticate(credential)).principal;
  }

  /** Like verify, with the reason for a refusal (for logs; never for the agent). */
  async authenticate(credential: string): Promise<AuthResult> {
    if (credential === "") return { failure: "missing" };
    const principal = this.#tokens.lookup(credential);
    if (principal) return { principal };
    if (this.#jwt && JWT_SHAPE.test(credential)) return this.#jwt.verify(credential);
    return { failure: "unknown_token" };
  }
}
