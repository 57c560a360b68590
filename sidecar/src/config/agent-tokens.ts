import type { Config } from "./types.js";

/**
 * Shortest static token an agent may have. The Postgres listener checks a SCRAM proof and the HTTP
 * listener a bearer token as fast as they are sent, from any process that reaches them; failed logins are
 * throttled (agents.failed_logins), but a short token would still fall to patience. Sixteen random
 * characters (about 96 bits from openssl rand -base64) put guessing out of reach at any rate, as for
 * reviewers' and responders' tokens (person-tokens.ts).
 */
export const MIN_AGENT_TOKEN = 16;

/** Why a token set cannot be used for agents (too short), one line each; said without the token or its length. */
export function agentTokenProblems(tokens: readonly { subject: string; token: string }[], where = "agents.tokens"): string[] {
  const problems: string[] = [];
  tokens.forEach((t, i) => {
    if (t.token.length > 0 && t.token.length < MIN_AGENT_TOKEN) {
      problems.push(`${where}[${i}].token (agent ${t.subject}): shorter than ${MIN_AGENT_TOKEN} characters, guessable through the Postgres and HTTP listeners; give ${t.subject} a random one (openssl rand -base64 24)`);
    }
  });
  return problems;
}

/** Agent tokens too short to resist guessing, as configured at start. */
export function configAgentTokenProblems(cfg: Pick<Config, "agents">): string[] {
  return agentTokenProblems(cfg.agents.tokens.map((t) => ({ subject: t.subject, token: t.token.reveal() })));
}
