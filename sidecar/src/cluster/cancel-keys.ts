import { randomInt } from "node:crypto";

/**
 * The BackendKeyData pid regate issues names the worker that owns the session: bits 24-30 hold the
 * slot + 1, bits 0-23 are random. A CancelRequest arrives on a new connection, which the cluster may
 * hand to any worker; that worker reads the owner from the pid and forwards the request (the secret is
 * checked by the owner, with timingSafeEqual, as in a single process). The secret key stays 32 random bits.
 */
export const MAX_SLOTS = 64;

export function issuePid(slot: number): number {
  return ((slot + 1) << 24) | randomInt(0, 1 << 24);
}

/** The slot that issued this pid; undefined for one no worker could have issued. */
export function ownerSlot(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const s = (pid >>> 24) - 1;
  return s >= 0 && s < MAX_SLOTS ? s : undefined;
}
