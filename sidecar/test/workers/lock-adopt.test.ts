import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UpstreamConfig } from "../../src/config/index.js";
import { PgLockStore, type Lock } from "../../src/locks/index.js";
import { createLogger } from "../../src/log.js";
import { freePort, startPostgres, type TestPostgres } from "../support/postgres.js";
import { until } from "../support/wait.js";

// incident.locks.store: postgres with workers (cluster/shared-lock-store.ts): a worker adopts a lock another
// worker stored, before the admin API answers. A re-read of the table that began before the lock was
// stored, and answers after it was adopted, must not drop it: else the lock lapses on that worker until
// the next NOTIFY, which is what the adoption is there to not wait for. The re-read's answer is held back
// by a proxy between the store and PostgreSQL, so the order is the test's, not the machine's.

const log = createLogger({ level: "silent" });
let db: TestPostgres;
let proxy: Server;
let held = false;
const waiting: { to: Socket; chunks: Buffer[] }[] = [];
const stores: PgLockStore[] = [];

/** A TCP proxy to PostgreSQL whose server-to-client bytes wait while `held`. */
async function startProxy(target: number): Promise<number> {
  const port = await freePort();
  proxy = createServer((client) => {
    const server = netConnect(target, "127.0.0.1");
    const q = { to: client, chunks: [] as Buffer[] };
    waiting.push(q);
    client.on("data", (c) => server.write(c));
    server.on("data", (c) => (held ? q.chunks.push(c) : client.write(c)));
    const close = () => (client.destroy(), server.destroy());
    client.on("close", close).on("error", close);
    server.on("close", close).on("error", close);
  });
  await new Promise<void>((r) => proxy.listen(port, "127.0.0.1", r));
  return port;
}

function release(): void {
  held = false;
  for (const q of waiting) for (const c of q.chunks.splice(0)) q.to.write(c);
}

/** A ReadyForQuery ends the held bytes of some connection: a query's whole answer is waiting. */
const answerHeld = () => waiting.some((q) => q.chunks.length > 0 && Buffer.concat(q.chunks).subarray(-6).equals(Buffer.from([0x5a, 0, 0, 0, 5, 0x49])));

beforeAll(async () => {
  db = await startPostgres({ loadDemo: false });
  await db.query(`GRANT CREATE ON DATABASE ${db.database} TO ${db.users.scram.user}`);
}, 120_000);

afterAll(async () => {
  release();
  for (const s of stores) await s.close().catch(() => undefined);
  proxy?.close();
  await db?.stop();
});

describe("PgLockStore.adopt", () => {
  it("a re-read that began before the lock was stored does not drop the adopted lock; a later one that finds it removed does", async () => {
    const upstream = { host: db.host, port: db.port, database: db.database, user: db.users.scram.user, password: { reveal: () => db.users.scram.password }, sslmode: "disable", connect_timeout_ms: 5000 } as unknown as UpstreamConfig;
    const stored = new PgLockStore(upstream, "regate", log, 600); // the worker the operator's POST /locks reached
    await stored.start();
    stores.push(stored);
    const other = new PgLockStore({ ...upstream, port: await startProxy(db.port) }, "regate", log, 600); // another worker
    await other.start();
    stores.push(other);

    held = true;
    const reread = other.reload();
    await until(answerHeld, 10_000);
    const lock: Lock = { id: "lk_adopt_redteam", target: { principal: "reliability-agent" }, message: "adopted", created_at: new Date().toISOString(), created_by: "rita" };
    await stored.add(lock);
    other.adopt(lock);
    expect(other.snapshot().map((l) => l.id)).toEqual([lock.id]);

    release();
    await reread;
    expect(other.snapshot().map((l) => l.id)).toEqual([lock.id]);

    // The table decides from the first read that began after the adoption.
    await stored.remove(lock.id);
    await other.reload();
    expect(other.snapshot()).toEqual([]);
  }, 60_000);
});
