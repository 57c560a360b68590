import type { Config } from "./types.js";

/**
 * Shortest bearer token a reviewer or responder may have. The admin listener answers every guess at once
 * and any process on the host can ask it (an agent in the same pod reaches its loopback port): about ten
 * thousand guesses a second found a four-digit reviewer token in under a second, and with it the agent
 * approved its own held UPDATE. Sixteen random characters put guessing out of reach; limiting guesses
 * instead would let that same agent lock reviewers and responders out of the listener.
 */
export const MIN_PERSON_TOKEN = 16;

/** Reviewers' and responders' tokens too short to resist guessing. */
export function personTokenProblems(cfg: Pick<Config, "approvals" | "incident">): string[] {
  const problems: string[] = [];
  const check = (where: string, name: string, token: string) => {
    // Said without the token or its length: the message is logged.
    if (token.length < MIN_PERSON_TOKEN) problems.push(`${where}: shorter than ${MIN_PERSON_TOKEN} characters, guessable by anything that reaches the admin listener; give ${name} a random one (openssl rand -base64 24)`);
  };
  cfg.approvals.reviewers.forEach((r, i) => check(`approvals.reviewers[${i}].token`, r.name, r.token.reveal()));
  cfg.incident.responders.forEach((r, i) => check(`incident.responders[${i}].token`, r.name, r.token.reveal()));
  return problems;
}
