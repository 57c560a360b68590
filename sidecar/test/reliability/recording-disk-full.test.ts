// Fault: the disk under the session recordings fills up (a real 256 KiB tmpfs, mounted as root). Judged by
// the clients (58030 RECORDING_UNAVAILABLE, saying why), by the database (a refused write did not run), by the
// recordings (the chain on disk still verifies: no half record) and by recovery once space is freed.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegateChild, type RegateChild } from "./support/regate-child.js";
import { regateArgv } from "../support/compiled-regate.js";

let db: TestPostgres;
let regate: RegateChild;
let mnt: string;
let mounted = false;
const clients: pg.Client[] = [];

async function agent(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

beforeAll(async () => {
  // Needs root for the mount; without it this fault cannot be staged (a read-only dir does not stop root).
  if (userInfo().uid !== 0) throw new Error("recording-disk-full needs root to mount a small tmpfs (mount -t tmpfs -o size=256k)");
  mnt = mkdtempSync(join(tmpdir(), "regate-rel-diskfull-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", mnt], { stdio: "pipe" });
  mounted = true;
  mkdirSync(join(mnt, "rec"));
  db = await startPostgres();
  regate = await startRegateChild({ name: "recording-disk-full", pg: db, overrides: { recording: { enabled: true, dir: join(mnt, "rec") } } });
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
  if (mounted) {
    // Keep what regate recorded for the secrets sweep before the tmpfs goes.
    if (regate) execFileSync("cp", ["-r", join(mnt, "rec"), join(regate.dir, "recordings")], { stdio: "pipe" });
    execFileSync("umount", [mnt], { stdio: "pipe" });
    rmSync(mnt, { recursive: true, force: true });
  }
});

describe("disk full for recordings", () => {
  it("statements are refused with 58030 once a record cannot be written, the refused write does not run, the chain verifies, and space freed brings service back", async () => {
    const a = await agent();
    await a.query("SELECT count(*) FROM public.orders");
    // Fill the disk, leaving a few KiB for regate.
    const filler = join(mnt, "filler");
    const free = Number(execFileSync("df", ["--output=avail", "-B1", mnt]).toString().split("\n")[1]!.trim());
    writeFileSync(filler, Buffer.alloc(Math.max(0, free - 8 * 1024)));

    let refusal: (Error & { code?: string; hint?: string }) | undefined;
    let ran = 0;
    const marker = 424242.42;
    for (let i = 0; i < 400 && !refusal; i++) {
      await a.query(`INSERT INTO public.orders (customer_id, amount, status, created_at) VALUES (1, ${marker}, 'pending', now())`).then(
        () => ran++,
        (e: Error & { code?: string }) => (refusal = e),
      );
    }
    expect(refusal, "no statement was refused although the disk is full").toBeDefined();
    expect(refusal!.code).toBe("58030");
    expect(refusal!.message).toMatch(/recording cannot be written/);
    // The refused INSERT did not run: only the ones that were answered are in the table.
    expect(Number((await db.query("SELECT count(*)::int AS n FROM public.orders WHERE amount = $1", [marker]))[0].n)).toBe(ran);
    // Fail closed for everyone while the disk is full, reads too, and for a new session.
    await expect(a.query("SELECT 1")).rejects.toMatchObject({ code: "58030" });
    const b = await agent().catch((e: Error) => e);
    if (b instanceof pg.Client) await expect(b.query("SELECT 1")).rejects.toMatchObject({ code: "58030" });
    expect(regate.stdout()).toMatch(/session recording cannot be written; refusing new statements/);

    // Free the space: statements are admitted again, and what is on disk verifies.
    rmSync(filler);
    let back = false;
    for (let i = 0; i < 50 && !back; i++) {
      back = await a.query("SELECT 2 AS n").then(
        () => true,
        () => false,
      );
      if (!back) await new Promise((r) => setTimeout(r, 100));
    }
    expect(back).toBe(true);
    // Regression: the session that logged in while the disk was full left an empty file behind, and its
    // recording could never start again (EEXIST): it was refused for good.
    if (b instanceof pg.Client) await expect(b.query("SELECT 3 AS n")).resolves.toMatchObject({ rows: [{ n: 3 }] });
    expect(regate.stdout()).toMatch(/session recording writable again; statements admitted/);
    const verify = spawnSync(process.execPath, regateArgv("recordings", "verify", "--dir", join(mnt, "rec"), "--json"), {
      cwd: packageRoot,
      encoding: "utf8",
    });
    if (verify.status !== 0) process.stdout.write(`verify exit ${verify.status}: ${verify.stdout.slice(0, 3000)}${verify.stderr.slice(0, 2000)}\n`);
    // Regression: a record cut back after a partial write was followed by a hole of NUL bytes (not valid JSON).
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, problems: [] });
    process.stdout.write(`disk full: ${ran} INSERTs recorded and run before the first refusal\n`);
  }, 120_000);
});
