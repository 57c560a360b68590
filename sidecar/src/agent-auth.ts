import { readFileSync } from "node:fs";
import type { Config } from "./config/index.js";
import type { Principal } from "./decision/index.js";
import { RotatingAgentDirectory, type AgentDirectory } from "./identity/index.js";
import type { Logger } from "./log.js";
import { scramVerifier, type AgentAuth } from "./postgres/index.js";

type ScramEntry = { verifier: ReturnType<typeof scramVerifier>; principal: Principal };

/** SCRAM verifiers by agent subject; a lookup first takes a rotated token file into use. */
class RefreshingMap extends Map<string, ScramEntry> {
  constructor(private readonly before: () => void) {
    super();
  }

  override get(key: string): ScramEntry | undefined {
    this.before();
    return super.get(key);
  }
}

/**
 * Who the agents are, for both adapters: static tokens (re-read when a {file} secret changes) and JWTs.
 * Postgres agents with a static token log in with SCRAM-SHA-256 (user = subject, password = token); their
 * verifiers are rebuilt whenever the tokens change.
 */
export function agentAuth(config: Config, log: Logger): { directory: AgentDirectory; postgres: AgentAuth } {
  const jwt = config.agents.jwt;
  let directory: RotatingAgentDirectory | undefined;
  const scram = new RefreshingMap(() => directory?.refresh());
  let first = true;
  directory = new RotatingAgentDirectory({
    read: () => config.agents.tokens.map((t) => ({ subject: t.subject, groups: t.groups, claims: t.claims, token: t.token.reveal() })),
    ...(jwt
      ? {
          jwt: {
            jwks: jwt.jwks_file ? (JSON.parse(readFileSync(jwt.jwks_file, "utf8")) as { keys: unknown[] }) : { url: jwt.jwks_url! },
            subject_claim: jwt.subject_claim,
            groups_claim: jwt.groups_claim,
            ...(jwt.issuer ? { issuer: jwt.issuer } : {}),
            ...(jwt.audience ? { audience: jwt.audience } : {}),
          },
        }
      : {}),
    onChange: (tokens, dir) => {
      const next = new Map<string, ScramEntry>();
      for (const t of tokens) {
        const principal = dir.staticToken(t.token);
        if (principal) next.set(t.subject, { verifier: scramVerifier(t.token), principal: { ...principal, auth_method: "scram-sha-256" } });
      }
      scram.clear();
      for (const [k, v] of next) scram.set(k, v);
      if (!first) log.warn({ event: "agent_tokens_changed", agents: tokens.map((t) => t.subject) }, "agent tokens changed on disk; new connections and requests use them");
      first = false;
    },
    onError: (err) => log.error({ err, event: "agent_tokens_refused" }, "changed agent tokens cannot be used; the previous tokens stay in force"),
  });
  return { directory, postgres: { directory, scram } };
}
