import { readFileSync } from "node:fs";
import type { ClusterRole } from "./cluster/index.js";
import { MIN_AGENT_TOKEN, type Config } from "./config/index.js";
import type { Principal } from "./decision/index.js";
import { LoginThrottle, RotatingAgentDirectory, type AgentDirectory, type LoginGuard } from "./identity/index.js";
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
export function agentAuth(config: Config, log: Logger, cluster?: ClusterRole): { directory: AgentDirectory; postgres: AgentAuth } {
  const jwt = config.agents.jwt;
  let directory: RotatingAgentDirectory | undefined;
  const scram = new RefreshingMap(() => directory?.refresh());
  let first = true;
  directory = new RotatingAgentDirectory({
    minTokenChars: MIN_AGENT_TOKEN,
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
  directory.throttle = loginThrottle(config, log, cluster);
  return { directory, postgres: { directory, scram } };
}

/**
 * One process: its own count at the configured limits. Workers: the primary counts for all of them
 * (cluster/login-throttle.ts), so the limits hold for the cluster as a whole; each worker also keeps its share,
 * `limit / N` (at least 1), which refuses only while the primary does not answer (never unlimited).
 */
function loginThrottle(config: Config, log: Logger, cluster: ClusterRole | undefined): LoginGuard {
  const limits = config.agents.failed_logins;
  const workers = Math.max(1, cluster?.workers ?? 1);
  const share = (n: number) => (n === 0 ? 0 : Math.max(1, Math.floor(n / workers)));
  // With workers, the share speaks only while it is what refuses (the primary logs the cluster's count).
  let inForce = () => true;
  const own = new LoginThrottle({
    perSource: share(limits.per_source),
    overall: share(limits.overall),
    windowMs: limits.window_seconds * 1000,
    onThrottled: (e) =>
      inForce() &&
      log.warn(
        { event: "agent_logins_throttled", source: e.kind, ...(e.name ? { name: e.name } : {}), retry_after_s: e.retry_after_s, ...(workers > 1 ? { worker_share: true } : {}) },
        e.kind === "overall" ? "too many failed agent logins overall; attempts not as a configured Postgres agent are refused until the count drains" : "too many failed agent logins from one source; its attempts are refused until the count drains",
      ),
  });
  if (!cluster || workers === 1 || limits.per_source === 0) return own;
  const guard = cluster.loginThrottle({ per_source: limits.per_source, overall: limits.overall, window_ms: limits.window_seconds * 1000 }, own);
  inForce = () => guard.unreachable;
  return guard;
}
