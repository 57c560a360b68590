// A lock that lands while an agent's session is still starting (regate's own upstream connection opened,
// its first query not yet answered) leaves no backend behind: what the upstream held for that agent is closed.
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { admin, connect, startIncidentRegate, until } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;
let proxy: Server;
/** While armed, an agent session's first query makes the proxy hold the server's answers on it (released by `release`). */
let armed = false;
const held: { up: Socket; down: Socket; chunks: Buffer[] }[] = [];

function release(): void {
  for (const h of held.splice(0)) for (const c of h.chunks) h.down.write(c);
}

beforeAll(async () => {
  db = await startPostgres();
  // Between regate and PostgreSQL: relays bytes, and can stall a session start where regate waits for its first answer.
  proxy = createServer((down) => {
    const up = netConnect({ host: db.host, port: db.port });
    let holding: { up: Socket; down: Socket; chunks: Buffer[] } | undefined;
    let agents = false;
    down.on("data", (b: Buffer) => {
      // Only the agent's own session (its startup names it), not regate's catalog or store connections.
      if (b[0] === 0 && b.includes("regate:test-agent")) agents = true;
      if (armed && agents && !holding && b[0] === 0x51) held.push((holding = { up, down, chunks: [] }));
      up.write(b);
    });
    up.on("data", (b: Buffer) => (holding && held.includes(holding) ? holding.chunks.push(b) : down.write(b)));
    const close = (): void => {
      up.destroy();
      down.destroy();
    };
    up.on("error", close).on("close", close);
    down.on("error", close).on("close", close);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const port = (proxy.address() as { port: number }).port;
  regate = await startIncidentRegate(db, { postgres: { upstream: { host: "127.0.0.1", port } } });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  proxy?.close();
  await db?.stop();
});

/** Backends regate opened for the agent (application_name regate:test-agent), seen from a direct connection. */
async function agentBackends(): Promise<number> {
  return (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'regate:test-agent'"))[0].n as number;
}

describe("a lock during an agent's session start", () => {
  it("refuses the agent with the lock's FATAL and closes the upstream connection regate was opening for it", async () => {
    armed = true;
    const refused = connect(regate.url()).then(
      (c) => (void c.end(), undefined),
      (e: pg.DatabaseError) => e,
    );
    // The upstream session exists and regate waits on its first query's answer.
    await until(() => held.length === 1);
    await until(async () => (await agentBackends()) === 1);
    const created = await admin(regate, "POST", "/locks", { target: { principal: "test-agent" }, message: "stop INC-31" });
    expect(created.status).toBe(201);
    const err = await refused;
    expect(err?.code).toBe("57P01");
    expect(err?.message).toContain(`agent locked (${created.body.id}, principal test-agent): stop INC-31`);
    // The answer regate was waiting for arrives after the lock: the session must not go on from there.
    armed = false;
    release();
    await until(async () => (await agentBackends()) === 0);
    expect(regate.app.sessions.size).toBe(0);
    await admin(regate, "DELETE", `/locks/${created.body.id}`);
  }, 60_000);
});
