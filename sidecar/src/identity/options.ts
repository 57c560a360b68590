// Plain options: secrets arrive already resolved (config loading reads files and env; this module does not).

export interface StaticTokenOptions {
  subject: string;
  groups: string[];
  /** The agent's bearer token. */
  token: string;
  /** Attributes the policy sees as `session.principal.claims`. */
  claims?: Record<string, unknown>;
}

export interface JwtOptions {
  /** A JWKS document, or the URL to fetch one from (cached and refreshed by jose). */
  jwks: { keys: unknown[] } | { url: string };
  issuer?: string;
  audience?: string;
  /** Claim naming the agent; default "sub". */
  subject_claim?: string;
  /** Claim listing the agent's groups (array, or space-separated string); default "groups". */
  groups_claim?: string;
}

export interface AgentDirectoryOptions {
  tokens: StaticTokenOptions[];
  jwt?: JwtOptions;
  /** Shorter static tokens are refused (a rotated token file too: the previous set stays); default: any non-empty. */
  minTokenChars?: number;
}
