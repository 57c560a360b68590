// Red team of locks by name: a lock typed as a responder reads the agent's name must stop that agent,
// whatever invisible or compatibility spelling separates the two; other agents are spared.
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { admin, connect, OTHER, startIncidentRegate } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startIncidentRegate(db);
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

afterEach(async () => {
  for (const l of regate.app.locks.list()) await regate.app.locks.remove(l.id, "test");
});

const refusedConnect = (url: string) => connect(url).then((c) => (void c.end(), undefined), (e: pg.DatabaseError) => e);

describe("a lock names the agent as a responder reads it", () => {
  // The agent's subject is "test-agent". Before: each of these locks was created (201) and stopped nothing.
  it.each([
    ["another case", "Test-Agent"],
    ["a zero-width space inside", "test\u200b-agent"],
    ["fullwidth letters", "\uff54\uff45\uff53\uff54-\uff41\uff47\uff45\uff4e\uff54"],
    ["a soft hyphen and a byte-order mark", "\ufefftest-\u00adagent"],
  ])("principal spelled with %s: the live session ends, new connections are refused, the other agent is spared", async (_name, spelled) => {
    const victim = await connect(regate.url());
    const other = await connect(regate.url(OTHER.user, OTHER.token));
    try {
      // Bounded: before, no lock matched and the session was never ended.
      const ended = new Promise<Error>((r, no) => {
        victim.once("error", r);
        setTimeout(() => no(new Error("the session was not ended")), 5_000).unref();
      });
      const created = await admin(regate, "POST", "/locks", { target: { principal: spelled }, message: "INC-12" });
      expect(created.status).toBe(201);
      expect((await ended).message).toContain("INC-12");
      const refused = await refusedConnect(regate.url());
      expect(refused?.code).toBe("42501");
      expect((await other.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await victim.end().catch(() => undefined);
      await other.end();
    }
  });

  it("a group lock spelled in another case stops its members only", async () => {
    const created = await admin(regate, "POST", "/locks", { target: { group: "BATCH" }, message: "INC-13" });
    expect(created.status).toBe(201);
    expect((await refusedConnect(regate.url(OTHER.user, OTHER.token)))?.code).toBe("42501");
    const agent = await connect(regate.url());
    try {
      expect((await agent.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
    } finally {
      await agent.end();
    }
  });

  it("a name in another script that only looks alike is another name: that lock spares the agent (docs/incident-response.md)", async () => {
    // Cyrillic "а" in place of Latin "a": a different name, not folded.
    await admin(regate, "POST", "/locks", { target: { principal: "test-\u0430gent" }, message: "INC-14" });
    const agent = await connect(regate.url());
    try {
      expect((await agent.query("SELECT 3 AS three")).rows).toEqual([{ three: 3 }]);
    } finally {
      await agent.end();
    }
  });
});
