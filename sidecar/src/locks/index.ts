// Locks: stop an agent, a group, a credential or a session now, without a restart (docs/incident-response.md).
export { LockService, lockedText, type LockEnded, type LockEnforcer, type NewLock } from "./service.js";
export { MemoryLockStore } from "./memory-store.js";
export { LockGuard } from "./guard.js";
export { describeTarget, isLive, matches, tokenId, type Lock, type LockStore, type LockTarget } from "./types.js";
export { PgLockStore, LOCKS_CHANNEL, locksTableSql } from "./pg-store.js";
export { lockStore } from "./from-config.js";
export { registerIncidentMetrics } from "./metrics.js";
