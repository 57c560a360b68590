// A hunt for paths where a secret regate holds reaches someone who should not see it, judged by the bytes the
// agent got. What it found: an upstream role that may read pg_authid (a superuser) got back the hash
// PostgreSQL keeps for regate's own password. An md5 role's `md5` + 32 hex digits logs in as the role by
// itself (md5 authentication answers the challenge from it); a SCRAM role's StoredKey and ServerKey let a
// server be impersonated and, with one overheard exchange, yield the key that logs in. Both are now
// withheld wherever the password is (postgres/upstream-secrets.ts). So is the hash of a store role regate
// logs in as (approvals.store_login): whoever reads it writes approvals as regate.
import { readdirSync, readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAllowAllBundle } from "./support/bundles.js";
import { connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { outputDir } from "../support/test-output.js";

let db: TestPostgres;
const regates: TestRegate[] = [];
const agents: pg.Client[] = [];

/** An agent through a regate whose upstream role is `role`, and every byte regate sent it. */
async function agentAs(role: "md5" | "scram"): Promise<{ agent: pg.Client; seen: () => string; recorded: () => string }> {
  const { user, password } = db.users[role];
  const dir = join(outputDir("suite", `secrets-hunt-${role}`), "recordings");
  const regate = await startRegate(db, {
    postgres: { upstream: { user, password: { value: password } } },
    policy: { bundle: buildAllowAllBundle(`secrets-hunt-${role}`) },
    recording: { enabled: true, dir, rows: 5 },
  });
  regates.push(regate);
  const agent = await connectClient(regate.url());
  agents.push(agent);
  const seen: Buffer[] = [];
  (agent as unknown as { connection: { stream: Socket } }).connection.stream.on("data", (d: Buffer) => seen.push(Buffer.from(d)));
  return {
    agent,
    seen: () => Buffer.concat(seen).toString("latin1"),
    recorded: () => readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8")).join("\n"),
  };
}

/** The parts of a role's rolpassword that stand for its password, as the admin reads them directly. */
async function hashParts(user: string): Promise<string[]> {
  const [row] = await db.query(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, [user]);
  const stored = String(row.rolpassword);
  if (stored.startsWith("md5")) return [stored.slice(3)];
  // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
  const m = /^SCRAM-SHA-256\$\d+:[^$]+\$([^:]+):(.+)$/.exec(stored);
  if (!m) throw new Error(`unexpected rolpassword shape for ${user}`);
  return [m[1]!, m[2]!];
}

beforeAll(async () => {
  db = await startPostgres();
  // The upstream role as some operators run it: allowed to read pg_authid.
  await db.query(`ALTER ROLE ${db.users.md5.user} SUPERUSER; ALTER ROLE ${db.users.scram.user} SUPERUSER`);
}, 120_000);

afterAll(async () => {
  for (const a of agents) await a.end().catch(() => undefined);
  for (const r of regates) await r.stop();
  await db?.stop();
});

describe.each(["md5", "scram"] as const)("regate's upstream password as pg_authid keeps it (%s role)", (role) => {
  let agent: pg.Client;
  let seen: () => string;
  let recorded: () => string;
  let parts: string[];

  beforeAll(async () => {
    ({ agent, seen, recorded } = await agentAs(role));
    parts = await hashParts(db.users[role].user);
  }, 120_000);

  it("the test's reader is not blind: the admin reads the hash directly", () => {
    expect(parts.length).toBeGreaterThan(0);
    for (const p of parts) expect(p.length).toBeGreaterThanOrEqual(32);
  });

  it("a row of pg_authid comes back with the hash overwritten, the role's name kept", async () => {
    const { rows } = await agent.query(`SELECT rolname, rolpassword FROM pg_authid WHERE rolname = current_user`);
    expect(rows[0].rolname).toBe(db.users[role].user);
    for (const p of parts) {
      expect(rows[0].rolpassword).not.toContain(p);
      expect(rows[0].rolpassword).toContain("*".repeat(p.length));
    }
    for (const p of parts) expect(seen()).not.toContain(p);
  });

  it("the recording's row sample holds it no more than the agent's bytes did", async () => {
    await agent.query(`SELECT rolpassword FROM pg_authid WHERE rolname = current_user`);
    await agent.query("SELECT 1");
    expect(recorded()).toContain("rolpassword");
    for (const p of parts) expect(recorded()).not.toContain(p);
  });

  it("an error quoting the hash has it withheld", async () => {
    const err = await agent.query(`SELECT rolpassword::int FROM pg_authid WHERE rolname = current_user`).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain("[regate secret withheld]");
    for (const p of parts) expect(seen()).not.toContain(p);
  });

  it("another role's hash comes back as it is (must-allow: only regate's own is withheld)", async () => {
    const other = role === "md5" ? "scram" : "md5";
    const otherParts = await hashParts(db.users[other].user);
    const { rows } = await agent.query(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, [db.users[other].user]);
    for (const p of otherParts) expect(rows[0].rolpassword).toContain(p);
  });
});

describe("a store role's password as pg_authid keeps it (approvals.store_login)", () => {
  let agent: pg.Client;
  let parts: string[];
  let seen: () => string;

  beforeAll(async () => {
    const store = db.users.md5;
    const regate = await startRegate(db, {
      postgres: { upstream: { user: db.users.scram.user, password: { value: db.users.scram.password } } },
      policy: { bundle: buildAllowAllBundle("secrets-hunt-store") },
      approvals: { enabled: true, store: "postgres", schema: "hunt_store", store_login: { user: store.user, password: { value: store.password } }, reviewers: [{ name: "rev", token: { value: "reviewer-token-0123456789" } }] },
    });
    regates.push(regate);
    agent = await connectClient(regate.url());
    agents.push(agent);
    const got: Buffer[] = [];
    (agent as unknown as { connection: { stream: Socket } }).connection.stream.on("data", (d: Buffer) => got.push(Buffer.from(d)));
    seen = () => Buffer.concat(got).toString("latin1");
    parts = await hashParts(store.user);
  }, 120_000);

  it("comes back overwritten, in a row and in an error", async () => {
    const { rows } = await agent.query(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, [db.users.md5.user]);
    expect(rows[0].rolpassword).toBe(`md5${"*".repeat(32)}`);
    const err = await agent.query(`SELECT rolpassword::int FROM pg_authid WHERE rolname = $1`, [db.users.md5.user]).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain("[regate secret withheld]");
    for (const p of parts) expect(seen()).not.toContain(p);
  });
});
