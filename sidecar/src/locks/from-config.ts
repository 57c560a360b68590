import type { Config } from "../config/index.js";
import { RegateError } from "../errors.js";
import type { Logger } from "../log.js";
import { MemoryLockStore } from "./memory-store.js";
import { PgLockStore } from "./pg-store.js";
import type { LockStore } from "./types.js";

/** Where locks live: this process, or a table every replica shares (read before any listener opens: never start blind). */
export async function lockStore(config: Config, log: Logger): Promise<LockStore> {
  const l = config.incident.locks;
  if (l.store === "memory") return new MemoryLockStore();
  const store = new PgLockStore(config.postgres.upstream, l.schema, log, l.resync_seconds);
  try {
    await store.start();
  } catch (err) {
    await store.close();
    throw new RegateError("UPSTREAM_UNAVAILABLE", `cannot create or read the lock table ${l.schema}.locks (incident.locks.store: postgres): ${describeCause(err)}`, { cause: err });
  }
  return store;
}

function describeCause(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause;
  return cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
}

