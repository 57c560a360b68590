import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Principal } from "../decision/index.js";
import { MemoryLockStore } from "./memory-store.js";
import { LockService } from "./service.js";
import { isLive, matches, tokenId, type Lock, type LockTarget } from "./types.js";

const log = pino({ level: "silent" });
const staticAgent: Principal = { subject: "support-bot", groups: ["support", "batch"], claims: {}, auth_method: "scram-sha-256" };
const jwtAgent: Principal = { subject: "agent-7", groups: ["readers"], claims: { jti: "tok-42", sub: "agent-7" }, auth_method: "jwt" };
const jwtNoJti: Principal = { subject: "agent-8", groups: [], claims: { sub: "agent-8" }, auth_method: "jwt" };
const lock = (target: LockTarget, expires_at?: string): Lock => ({ id: "lk_1", target, message: "m", created_at: "2026-01-01T00:00:00.000Z", created_by: "rita", ...(expires_at ? { expires_at } : {}) });

describe("lock targets", () => {
  it.each([
    [{ principal: "support-bot" }, staticAgent, "s1", true],
    [{ principal: "support-bot" }, jwtAgent, "s1", false],
    [{ group: "batch" }, staticAgent, "s1", true],
    [{ group: "batch" }, jwtAgent, "s1", false],
    [{ token: "tok-42" }, jwtAgent, "s1", true],
    [{ token: "agent-7" }, jwtAgent, "s1", false],
    [{ token: "support-bot" }, staticAgent, "s1", true],
    [{ token: "agent-8" }, jwtNoJti, "s1", false],
    [{ session: "s1" }, staticAgent, "s1", true],
    [{ session: "s1" }, staticAgent, "s2", false],
    [{ session: "s1" }, staticAgent, undefined, false],
  ] as const)("%j on %s in session %s: %s", (target, principal, session, expected) => {
    expect(matches(lock(target), principal, session)).toBe(expected);
  });

  it("names a credential by its id, never its value", () => {
    expect(tokenId(jwtAgent)).toBe("tok-42");
    expect(tokenId(jwtNoJti)).toBeUndefined();
    expect(tokenId(staticAgent)).toBe("support-bot");
  });

  it("a lock is live until its expiry", () => {
    const l = lock({ principal: "x" }, "2026-01-01T00:00:10.000Z");
    expect(isLive(l, Date.parse("2026-01-01T00:00:09.999Z"))).toBe(true);
    expect(isLive(l, Date.parse("2026-01-01T00:00:10.000Z"))).toBe(false);
    expect(isLive(lock({ principal: "x" }), Number.MAX_SAFE_INTEGER)).toBe(true);
  });
});

describe("LockService", () => {
  it("ends matching sessions and withdraws their approvals when a lock is added, then finds it until removed", async () => {
    const service = new LockService(new MemoryLockStore(), log);
    const ended: string[] = [];
    const withdrawn: string[] = [];
    const approvals = [
      { principal: "support-bot", session_id: "s1" },
      { principal: "agent-7", session_id: "s3" },
    ];
    service.attach({
      sessions: () => [
        { id: "s1", principal: staticAgent },
        { id: "s2", principal: staticAgent },
        { id: "s3", principal: jwtAgent },
      ],
      endSession: async (id, reason) => (ended.push(`${id}: ${reason}`), true),
      withdrawApprovals: (select, by) => approvals.filter(select).map((a) => withdrawn.push(`${a.session_id} ${by}`)).length,
    });
    const l = await service.add({ target: { group: "support" }, message: "paused" }, "rita");
    await new Promise((r) => setImmediate(r));
    expect(ended).toEqual([`s1: agent locked (${l.id}, group support): paused`, `s2: agent locked (${l.id}, group support): paused`]);
    expect(withdrawn).toEqual([`s1 lock ${l.id}`]);
    expect(service.find(staticAgent)?.id).toBe(l.id);
    expect(service.find(jwtAgent)).toBeUndefined();
    expect(service.refusal(l).code).toBe("LOCKED");
    expect(service.refusal(l).message).toBe(`regate: this agent is locked by an operator: paused (lock ${l.id})`);
    expect(await service.remove(l.id, "rita")).toBe(true);
    expect(service.find(staticAgent)).toBeUndefined();
    expect(await service.remove(l.id, "rita")).toBe(false);
  });

  it("a group or token lock withdraws the approvals of an agent this process never saw (a restart, another replica)", async () => {
    for (const target of [{ group: "support" }, { token: "jti-1" }]) {
      const service = new LockService(new MemoryLockStore(), log);
      const withdrawn: string[] = [];
      const approvals = [
        { principal: "unseen-bot", session_id: "s8" },
        { principal: "agent-7", session_id: "s9" },
      ];
      service.remember(jwtAgent);
      service.attach({
        sessions: () => [],
        endSession: async () => true,
        withdrawApprovals: (select) => approvals.filter(select).map((a) => withdrawn.push(a.session_id)).length,
      });
      await service.add({ target, message: "paused" }, "rita");
      await new Promise((r) => setImmediate(r));
      // agent-7 was seen without the group and with another credential: its approval stays.
      expect(withdrawn, JSON.stringify(target)).toEqual(["s8"]);
    }
  });

  it("an expired lock neither matches nor lists", async () => {
    const service = new LockService(new MemoryLockStore(), log);
    const l = await service.add({ target: { principal: "support-bot" }, message: "brief", ttl_seconds: 0.05 }, "rita");
    expect(l.expires_at).toBeDefined();
    expect(service.find(staticAgent)?.id).toBe(l.id);
    expect(service.find(staticAgent, undefined, Date.now() + 60)).toBeUndefined();
    expect(service.list(Date.now() + 60)).toEqual([]);
  });
});
