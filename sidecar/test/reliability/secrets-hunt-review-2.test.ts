// Review of the upstream-secrets change (secrets-hunt.test.ts), judged by the bytes the agent got.
//
// Found: after the upstream password file is rotated, the previous password's forms stay withheld ("sessions
// opened before the rotation may still echo it"), but only the first 8 of every form regate held, longest
// first. Those now include the SCRAM keys learned from each session and the md5 hashes (and the store roles'
// forms), all longer than the password: the previous password as it is spelled, its shortest form, fell out,
// and a row holding it reached the next agent in clear. What is carried over is now the previous password's
// own forms, its hashes and the keys learned with it, whatever their length.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAllowAllBundle } from "./support/bundles.js";
import { connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let dir: string;

beforeAll(async () => {
  db = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), "regate-secrets-review-"));
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the previous upstream password after a rotation of its file", () => {
  it("a row holding it is overwritten for a session opened after the rotation", async () => {
    const { user, password: old } = db.users.scram;
    const file = join(dir, "upstream-password");
    writeFileSync(file, `${old}\n`);
    // The test role's password is hex: read back in upper case (upper(), a bytea of it) it is the same secret,
    // and one of its forms regate withholds. Its shortest, with the password as typed.
    const shout = old.toUpperCase();
    expect(shout).not.toBe(old);
    await db.query(`CREATE TABLE public.kept (v text); INSERT INTO public.kept VALUES ('was ${shout} here'), ('was ${old} here'); GRANT SELECT ON public.kept TO ${user}`);
    regate = await startRegate(db, { postgres: { upstream: { password: { file } } }, policy: { bundle: buildAllowAllBundle("secrets-review-2") } });

    // A session before the rotation: its SCRAM exchange teaches regate the role's keys.
    const before = await connectClient(regate.url());
    const stars = `was ${"*".repeat(old.length)} here`;
    expect((await before.query("SELECT v FROM public.kept")).rows.map((r) => r.v)).toEqual([stars, stars]);

    const rotated = `rotated-${Date.now().toString(36)}-pw-long`;
    await db.query(`ALTER ROLE ${user} PASSWORD '${rotated}'`);
    writeFileSync(join(dir, "next"), `${rotated}\n`);
    renameSync(join(dir, "next"), file);

    const after = await connectClient(regate.url());
    try {
      expect((await after.query("SELECT v FROM public.kept")).rows.map((r) => r.v)).toEqual([stars, stars]);
      // And in error text.
      for (const form of [old, shout]) {
        const err = await after.query(`SELECT ('${form}')::int`).then(() => undefined, (e: Error) => e);
        expect(err?.message).toContain("[regate secret withheld]");
        expect(err?.message).not.toContain(form);
      }
    } finally {
      await before.end().catch(() => undefined);
      await after.end().catch(() => undefined);
    }
  });
});
