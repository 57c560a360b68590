import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { connect, until } from "./support.js";

// An agent's token given as {file} follows the file: after the file is rewritten, the old token is refused
// for new Postgres connections (SCRAM) and HTTP requests, the new one works, and no restart is needed.

const OLD = "agent-token-old-6d1f0a";
const NEW = "agent-token-new-93be57";
let db: TestPostgres;
let regate: TestRegate;
let upstream: Server;
let dir: string;
let file: string;

beforeAll(async () => {
  db = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), "regate-agent-rotation-"));
  file = join(dir, "agent-token");
  writeFileSync(file, `${OLD}\n`);
  upstream = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  regate = await startRegate(db, {
    agents: { tokens: [{ subject: "test-agent", groups: ["agents"], token: { file } }] },
    http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` }] },
  });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
  await new Promise((r) => upstream?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const http = (token: string) => fetch(`http://127.0.0.1:${regate.app.ports.http}/api/orders`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
const refused = (token: string) => connect(regate.url("test-agent", token)).then((c) => (void c.end(), undefined), (e: pg.DatabaseError) => e);

describe("rotating an agent's token", () => {
  it("the rewritten file replaces the old token for new connections and requests, without a restart", async () => {
    const before = await connect(regate.url("test-agent", OLD));
    expect(await http(OLD)).toBe(200);

    writeFileSync(join(dir, "next"), `${NEW}\n`);
    renameSync(join(dir, "next"), file);

    // Taken into use within half a second (the token set is checked at most that often).
    await until(async () => (await refused(OLD))?.code === "28P01");
    expect(await http(OLD)).toBe(401);
    const after = await connect(regate.url("test-agent", NEW));
    expect((await after.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    expect(await http(NEW)).toBe(200);
    // The new token typed into a statement and a path: scrubbed from the decision log and the request line
    // (the secrets regate holds are read again as the file changes), as the old one still is.
    await new Promise((r) => setTimeout(r, 1100));
    await after.query(`SELECT '${NEW}'::text AS t, '${OLD}'::text AS o`);
    await fetch(`http://127.0.0.1:${regate.app.ports.http}/api/orders/${encodeURIComponent(NEW)}`, { headers: { authorization: `Bearer ${NEW}` } });
    await fetch(`http://127.0.0.1:${regate.app.ports.http}/api/orders/${NEW}`, { headers: { authorization: `Bearer ${NEW}` } });
    // Already authenticated: goes on (a lock stops it).
    expect((await before.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
    await before.end();
    await after.end();

    const logs = regate.logs();
    expect(logs).toContain('"event":"agent_tokens_changed"');
    expect(logs).not.toContain(OLD);
    expect(logs).not.toContain(NEW);
  });
});
