import type { Logger } from "../log.js";
import type { SessionContext } from "./lifecycle/state.js";
import { TERMINATE_WAIT_MS, terminateBackend } from "./upstream.js";

/**
 * Ends an agent's upstream backend for an operator; false when no way worked (the caller then cancels). A
 * cancel stops only the running statement: the server goes on to run what the agent had pipelined behind it.
 * Ending the backend needs a connection of its own, which the server refuses when regate's role is at its
 * connection limit (an agent can open sessions up to it): then the catalog's connection, open already, ends it.
 */
export async function endBackend(ctx: SessionContext, pid: number, log: Logger): Promise<boolean> {
  try {
    await terminateBackend(ctx.upstream, pid);
    return true;
  } catch (err) {
    log.warn({ err }, "ending the upstream backend from a new connection failed; trying the catalog's connection");
  }
  try {
    const rows = await ctx.catalog.query(`SELECT pg_catalog.pg_terminate_backend(${Math.trunc(pid)}, ${TERMINATE_WAIT_MS})`);
    if (rows[0]?.[0] === "t") return true;
    log.warn({ pid }, "the catalog's connection did not end the upstream backend");
  } catch (err) {
    log.warn({ err }, "ending the upstream backend from the catalog's connection failed");
  }
  return false;
}
