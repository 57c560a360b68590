import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { connect } from "./support.js";

// regate's own upstream password, given as {file: …}, follows the file: after ALTER ROLE … PASSWORD and a
// rewrite of the file, new connections through regate use the new password, with no restart. In between,
// the agent is told it is regate's credential that was refused, and the log says which secret to check.

let db: TestPostgres;
let regate: TestRegate;
let dir: string;
let file: string;

beforeAll(async () => {
  db = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), "regate-rotation-"));
  file = join(dir, "upstream-password");
  writeFileSync(file, `${db.users.scram.password}\n`);
  regate = await startRegate(db, { postgres: { upstream: { password: { file } } } });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("rotating regate's upstream password", () => {
  it("new connections use the rewritten file; the failure in between is reported clearly", async () => {
    const before = await connect(regate.url());
    expect((await before.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);

    const old = db.users.scram.password;
    const rotated = `rotated-${Date.now().toString(36)}-pw`;
    await db.query(`ALTER ROLE ${db.users.scram.user} PASSWORD '${rotated}'`);

    // The database moved on, the file did not: regate's credential is refused, and the agent is told so.
    const err = await connect(regate.url()).then(
      () => undefined,
      (e: pg.DatabaseError) => e,
    );
    expect(err?.code).toBe("08006");
    expect(err?.message).toMatch(/^regate: the database refused regate's own credentials .*not your credential: tell an operator/);
    const line = regate
      .logs()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l["code"] === "UPSTREAM_AUTH_FAILED");
    expect(line).toMatchObject({ level: "error", upstream_user: db.users.scram.user, password_source: `file ${file}`, password_changed_at: "not since start" });

    // Rotate the file the way a secret volume does: write aside, rename over.
    writeFileSync(join(dir, "next"), `${rotated}\n`);
    renameSync(join(dir, "next"), file);
    const after = await connect(regate.url());
    expect((await after.query("SELECT current_user AS u")).rows).toEqual([{ u: db.users.scram.user }]);
    // The session opened before the rotation goes on.
    expect((await before.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);

    // The new password is withheld from error text as the old one was.
    const echoed = await after.query(`SELECT '${rotated}'::int`).then(() => undefined, (e: pg.DatabaseError) => e);
    expect(echoed?.message).toContain("[regate secret withheld]");
    expect(echoed?.message).not.toContain(rotated);

    await before.end();
    await after.end();
    // regate's own lines (the decision log holds the agent's SQL text, which the test typed the password into).
    const logs = regate.logs().split("\n").filter((l) => !l.includes('"msg":"Decision Log"')).join("\n");
    expect(logs).toContain("UPSTREAM_AUTH_FAILED");
    expect(logs).not.toContain(rotated);
    expect(logs).not.toContain(old);
  });
});
