// The catalog's freshness bound counts from when the database was asked, not from when it answered: an answer
// that took longer than the bound (a slow catalog query, or one queued behind others on the one catalog
// connection) already describes the catalog as it was more than the bound ago.
import { createServer, Socket, type Server } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secret } from "../../src/config/index.js";
import { Catalog } from "../../src/postgres/catalog.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";

const DELAY_MS = 300;
const STALENESS_MS = 200;

let db: TestPostgres;
let proxy: Server;
/** While true, the server's bytes reach the catalog DELAY_MS late. */
let slow = false;

beforeAll(async () => {
  db = await startPostgres({ loadDemo: false });
  await db.query("CREATE TABLE staleness_probe (id int)");
  proxy = createServer((client) => {
    const server = new Socket();
    server.connect(db.port, "127.0.0.1");
    client.pipe(server);
    server.on("data", (chunk) => (slow ? setTimeout(() => client.write(chunk), DELAY_MS) : client.write(chunk)));
    const close = () => (client.destroy(), server.destroy());
    client.on("error", close).on("close", close);
    server.on("error", close).on("close", close);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
}, 120_000);

afterAll(async () => {
  await new Promise((r) => proxy?.close(r));
  await db?.stop();
});

describe("catalog freshness", () => {
  it("an entry whose answer took longer than the bound is already stale when it arrives", async () => {
    const upstream = {
      host: "127.0.0.1",
      port: (proxy.address() as { port: number }).port,
      database: db.database,
      user: db.users.scram.user,
      password: new Secret(db.users.scram.password, "test"),
      sslmode: "disable" as const,
      connect_timeout_ms: 5000,
    };
    const catalog = new Catalog(upstream, pino({ level: "silent" }), { listen: false, maxStalenessMs: STALENESS_MS });
    try {
      // The connection is opened at full speed; only the lookup's answer is late.
      await catalog.ensure([["public", "other"]]);
      slow = true;
      const asked = Date.now();
      await catalog.ensure([["public", "staleness_probe"]]);
      expect(Date.now() - asked).toBeGreaterThanOrEqual(DELAY_MS);
      // What the database said DELAY_MS ago is past a bound of STALENESS_MS: not to be used.
      expect(catalog.relation("public", "staleness_probe")).toBeUndefined();
      slow = false;
      await catalog.ensure([["public", "staleness_probe"]]);
      expect(catalog.relation("public", "staleness_probe")?.name).toBe("staleness_probe");
    } finally {
      catalog.close();
    }
  }, 30_000);
});
