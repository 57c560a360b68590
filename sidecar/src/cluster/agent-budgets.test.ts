import { describe, expect, it } from "vitest";
import { BudgetTracker, NO_LIMITS } from "../postgres/lifecycle/budget.js";
import { AgentBudgetsPrimary, type LeaseRequest } from "./agent-budgets-primary.js";
import { ClusterAgentBudgets } from "./agent-budgets.js";

// Two workers' books against one primary's, the IPC hop replaced by a call (the cluster path itself is
// covered end to end in test/workers/agent-budgets.test.ts).
function cluster() {
  const primary = new AgentBudgetsPrimary();
  let calls = 0;
  const link = async (req: LeaseRequest) => {
    calls++;
    await new Promise((r) => setImmediate(r));
    return primary.lease(req);
  };
  return { primary, workers: [new ClusterAgentBudgets(link), new ClusterAgentBudgets(link)], calls: () => calls };
}

/** Streams rows as a session does: a socket read's worth at a time, then waits for what the session would wait for. */
async function stream(t: BudgetTracker, rows: number, perRead: number): Promise<number> {
  let sent = 0;
  while (sent < rows) {
    for (let i = 0; i < perRead && sent < rows; i++) {
      if (t.row(100, sent + 1, (sent + 1) * 100)) return sent;
      sent++;
    }
    await (t.agent?.waiting ?? new Promise((r) => setImmediate(r)));
  }
  return sent;
}

describe("ClusterAgentBudgets", () => {
  it("sessions of one agent on one worker share its leases (one request for both)", async () => {
    const { workers, calls } = cluster();
    const limits = () => ({ ...NO_LIMITS, agent_statements_per_minute: 64 });
    const [a, b] = [0, 1].map(() => new BudgetTracker(limits(), workers[0]!.open("duo", limits())));
    await a!.ready(1);
    expect(a!.admit(Date.now(), 1)).toBeUndefined();
    expect(b!.ready(1)).toBeUndefined();
    expect(b!.admit(Date.now(), 1)).toBeUndefined();
    expect(calls()).toBe(1);
  });

  it("one agent streaming on two workers gets its limit in all, give or take one read each", async () => {
    const { workers } = cluster();
    const limits = { ...NO_LIMITS, agent_rows_per_hour: 1000 };
    const [a, b] = workers.map((w) => new BudgetTracker(limits, w.open("duo", limits)));
    const [ra, rb] = await Promise.all([stream(a!, 5000, 20), stream(b!, 5000, 20)]);
    expect(ra + rb).toBeGreaterThanOrEqual(1000 - 2 * 32);
    expect(ra + rb).toBeLessThanOrEqual(1000 + 2 * 20);
    expect(a!.row(1, 1, 1)).toMatch(/^agent_rows_per_hour \(1000, across all of this agent's connections\); it refills in \d+s$/);
  });

  it("the agent's last session on a worker gives back what it leased and did not spend", async () => {
    const { primary, workers } = cluster();
    const limits = { ...NO_LIMITS, agent_statements_per_minute: 640, agent_rows_per_hour: 3200 };
    const t = new BudgetTracker(limits, workers[0]!.open("agent", limits));
    await t.ready(1);
    expect(t.admit(Date.now(), 1)).toBeUndefined();
    expect(t.row(10, 1, 10)).toBeUndefined();
    await t.agent!.waiting;
    const none = { rows: 0, bytes: 0, statements: 0 };
    const usedNow = () => primary.lease({ subject: "agent", limits, charge: none, give_back: none, take: none, need: none }).used;
    expect(usedNow()).toMatchObject({ agent_statements_last_minute: 20, agent_rows_last_hour: 100 });
    t.agent!.release();
    await new Promise((r) => setImmediate(r));
    expect(usedNow()).toMatchObject({ agent_statements_last_minute: 1, agent_rows_last_hour: 1 });
  });

  it("statements are admitted against leases; past the limit they are refused with the refill time", async () => {
    const { workers } = cluster();
    const limits = { ...NO_LIMITS, agent_statements_per_minute: 4 };
    const [a, b] = workers.map((w) => new BudgetTracker(limits, w.open("chatty", limits)));
    const admitted: boolean[] = [];
    for (const t of [a!, b!, a!, b!, a!, b!]) {
      await t.ready(1);
      admitted.push(t.admit(Date.now(), 1) === undefined);
    }
    expect(admitted.filter(Boolean)).toHaveLength(4);
    await a!.ready(1);
    expect(a!.admit(Date.now(), 1)?.reason).toMatch(/agent_statements_per_minute \(4, across all of this agent's connections\); it refills in \d+s/);
  });

  it("a primary that does not answer refuses (fail closed), and the next answer lets the agent on", async () => {
    const primary = new AgentBudgetsPrimary();
    let up = false;
    const book = new ClusterAgentBudgets(async (req) => {
      if (!up) throw new Error("the cluster primary did not answer budget.lease within 3000 ms");
      return primary.lease(req);
    });
    const limits = { ...NO_LIMITS, agent_statements_per_minute: 10, agent_rows_per_hour: 10 };
    const t = new BudgetTracker(limits, book.open("agent", limits));
    await t.ready(1);
    expect(t.admit(Date.now(), 1)).toMatchObject({ error_code: "CLUSTER_UNAVAILABLE" });
    expect(t.admit(Date.now(), 1)?.reason).toContain("did not answer");
    // A row with no lease and no answer: cut, never counted locally for ever.
    t.row(1, 1, 1);
    await t.agent!.waiting;
    await new Promise((r) => setImmediate(r));
    expect(t.row(1, 2, 2)).toContain("could not be checked");
    up = true;
    // Not asked again at once after a failure.
    expect(t.ready(1)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1_050));
    await t.ready(1);
    expect(t.admit(Date.now(), 1)).toBeUndefined();
  });
});
