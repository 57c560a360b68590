import { createHash } from "node:crypto";
import type { Principal } from "../decision/types.js";
import { AgentDirectory, type AuthResult } from "./agent-directory.js";
import type { AgentDirectoryOptions, JwtOptions, StaticTokenOptions } from "./options.js";

/** How stale the token set may be: a rotated file is taken into use within this (the HTTP path authenticates every request). */
export const CHECK_MS = 500;

export interface RotatingDirectoryOptions {
  /** Reads the static tokens now (secrets given as {file} follow their files: config/file-secret.ts). */
  read: () => StaticTokenOptions[];
  jwt?: JwtOptions;
  /** Shorter tokens are refused, at start and in a rotated file (onError; the previous set stays). */
  minTokenChars?: number;
  /** Called with each token set taken into use (the first one too): e.g. to rebuild SCRAM verifiers. */
  onChange?: (tokens: StaticTokenOptions[], directory: AgentDirectory) => void;
  /** A changed token set that cannot be used (a token configured twice, an empty file): the previous set stays. */
  onError?: (err: unknown) => void;
}

/**
 * An AgentDirectory whose static tokens can change without a restart: before a lookup, at most every
 * CHECK_MS, it reads the tokens (a stat per token file) and, when their digest changed, builds a fresh
 * directory from them.
 * The old token of a rotated agent stops working for new connections and requests at once; sessions
 * already authenticated go on (lock them to stop them: docs/incident-response.md).
 */
export class RotatingAgentDirectory extends AgentDirectory {
  readonly #opts: RotatingDirectoryOptions;
  #current: AgentDirectory;
  #key: string;
  #checkedAt = Date.now();

  constructor(opts: RotatingDirectoryOptions) {
    super({ tokens: [] });
    this.#opts = opts;
    const tokens = opts.read();
    this.#current = new AgentDirectory({ tokens, ...options(opts) });
    this.#key = digest(tokens);
    opts.onChange?.(tokens, this.#current);
  }

  /** Takes a changed token set into use; checks at most every CHECK_MS (a stat per token file each time). */
  refresh(now = Date.now()): void {
    if (now - this.#checkedAt < CHECK_MS) return;
    this.#checkedAt = now;
    const tokens = this.#opts.read();
    const key = digest(tokens);
    if (key === this.#key) return;
    // Remembered even when refused, so a bad file is reported once, not on every connection.
    this.#key = key;
    let next: AgentDirectory;
    try {
      next = new AgentDirectory({ tokens, ...options(this.#opts) });
    } catch (err) {
      this.#opts.onError?.(err);
      return;
    }
    this.#current = next;
    this.#opts.onChange?.(tokens, next);
  }

  override staticToken(token: string): Principal | undefined {
    this.refresh();
    return this.#current.staticToken(token);
  }

  override async verify(credential: string): Promise<Principal | undefined> {
    return (await this.authenticate(credential)).principal;
  }

  override authenticate(credential: string): Promise<AuthResult> {
    this.refresh();
    return this.#current.authenticate(credential);
  }
}

function options(opts: RotatingDirectoryOptions): Omit<AgentDirectoryOptions, "tokens"> {
  return { ...(opts.jwt ? { jwt: opts.jwt } : {}), ...(opts.minTokenChars ? { minTokenChars: opts.minTokenChars } : {}) };
}

/** A digest of the whole token set: what changed is compared without keeping any token in the clear. */
function digest(tokens: readonly StaticTokenOptions[]): string {
  const h = createHash("sha256");
  for (const t of tokens) h.update(t.subject).update("\0").update(t.token).update("\0");
  return h.digest("hex");
}
