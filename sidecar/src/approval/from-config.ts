import type { Config } from "../config/index.js";
import { RegateError } from "../errors.js";
import type { Logger } from "../log.js";
import { MemoryApprovalStore } from "./memory-store.js";
import { APPROVALS_TABLE } from "./pg-sql.js";
import { PgApprovalStore } from "./pg-store.js";
import type { ApprovalStore } from "./store.js";

/**
 * Where approvals live: this process, or a table every replica shares. The table is read before any
 * listener opens: a replica that cannot read it does not start (it could not honour another's approvals).
 * The store connects as regate's upstream user unless approvals.store_login names another role.
 */
export async function approvalStore(config: Config, log: Logger): Promise<ApprovalStore> {
  const a = config.approvals;
  if (a.store === "memory") return new MemoryApprovalStore();
  const upstream = a.store_login ? { ...config.postgres.upstream, user: a.store_login.user, ...(a.store_login.password ? { password: a.store_login.password } : {}) } : config.postgres.upstream;
  if (a.store_login && !a.store_login.password) delete (upstream as { password?: unknown }).password;
  const store = new PgApprovalStore(upstream, a.schema, log, a.resync_seconds);
  try {
    await store.start();
  } catch (err) {
    await store.close();
    throw new RegateError("UPSTREAM_UNAVAILABLE", `cannot create or read the approvals table ${a.schema}.${APPROVALS_TABLE} (approvals.store: postgres): ${describeCause(err)}`, { cause: err });
  }
  return store;
}

function describeCause(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause;
  return cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
}
