// The decision log loses nothing when regate stops: every statement that ran has exactly one decision line,
// counted against the database itself (each statement adds 1 to an order's amount). Reused decisions (same
// text, and other constants of one template) included. SIGTERM right after a burst and during one, SIGINT,
// workers: 2, and a stdout pipe that is read slowly.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { until } from "../support/wait.js";
import { startRegateChild, type RegateChild } from "./support/regate-child.js";

let db: TestPostgres;
const CLIENTS = 6;
/**
 * The burst keeps every session busy, so a drain lasts its whole timeout while statements go on running;
 * 400 ms of that is plenty of statements decided during the drain (the default here is 2 s).
 */
const DRAIN = { admin: { drain_timeout_ms: 400 } };
const PREFIX = "UPDATE orders SET amount = amount + 1 WHERE id = ";

beforeAll(async () => {
  db = await startPostgres();
});

afterAll(async () => {
  await db?.stop();
});

async function total(): Promise<number> {
  return Number((await db.query(`SELECT sum(amount) AS s FROM public.orders WHERE id <= ${CLIENTS * 10}`))[0].s);
}

/** How many statements the burst runs before the signal: counted, not timed, so a busy machine only runs it slower. */
const BEFORE_SIGNAL = 120;

/**
 * CLIENTS agents each run the update in a loop until `stop()` says so or their session ends; half use one
 * text (reused by its analysis), half vary the constant (reused by its template). `done.ok` counts the
 * statements the clients saw succeed; the promise resolves with the final count.
 */
function burst(url: string, stop: () => boolean, done: { ok: number }): Promise<number> {
  return Promise.all(
    Array.from({ length: CLIENTS }, async (_, k) => {
      const c = new pg.Client({ connectionString: url });
      c.on("error", () => undefined);
      await c.connect();
      for (let i = 0; !stop(); i++) {
        const id = k % 2 === 0 ? k + 1 : k * 10 + (i % 10) + 1;
        try {
          await c.query(`${PREFIX}${id}`);
          done.ok++;
        } catch {
          break;
        }
      }
      await c.end().catch(() => undefined);
    }),
  ).then(() => done.ok);
}

function updateLines(stdout: string): Record<string, any>[] {
  return stdout
    .split("\n")
    .filter((l) => l.includes('"msg":"Decision Log"'))
    .map((l) => JSON.parse(l) as Record<string, any>)
    .filter((d) => String(d["input"]?.postgres?.statements?.[0]?.sql ?? "").startsWith(PREFIX));
}

function exitOf(r: RegateChild): Promise<number | null> {
  return new Promise((resolve) => (r.exited() ? resolve(0) : r.process.once("exit", (code) => resolve(code))));
}

/** Runs a burst against `r`, signals it at `when`, and checks the log against the database. */
async function check(r: RegateChild, signal: NodeJS.Signals, when: "after" | "during", stdout: () => string | Promise<string>): Promise<void> {
  const before = await total();
  let stop = false;
  let signalled = false;
  const exit = exitOf(r);
  const done = { ok: 0 };
  const sent = burst(r.url(), () => stop || (when === "after" && signalled), done);
  await until(() => done.ok >= BEFORE_SIGNAL, 60_000);
  if (when === "during") {
    signalled = true;
    r.process.kill(signal);
    await sent;
  } else {
    stop = true;
    await sent;
    r.process.kill(signal);
  }
  expect(await exit).toBe(0);
  const ran = (await total()) - before;
  const lines = updateLines(await stdout());
  const allowed = lines.filter((d) => d["outcome"] === "allow");
  expect(ran).toBeGreaterThanOrEqual(BEFORE_SIGNAL);
  expect(allowed.length).toBe(ran);
  expect(new Set(lines.map((d) => d["decision_id"])).size).toBe(lines.length);
  // Most of them reused: each reuse has its own line naming an evaluated decision that is in the log too.
  const evaluated = new Set(lines.filter((d) => d["reused_from"] === undefined).map((d) => d["decision_id"]));
  const reused = lines.filter((d) => d["reused_from"] !== undefined);
  expect(reused.length).toBeGreaterThan(ran / 2);
  expect(reused.every((d) => evaluated.has(d["reused_from"]))).toBe(true);
}

describe("no decision line lost on exit", () => {
  it("SIGTERM right after a burst", async () => {
    const r = await startRegateChild({ name: "exit-audit-after", pg: db });
    await check(r, "SIGTERM", "after", () => r.stdout());
  }, 120_000);

  it("SIGTERM during a burst", async () => {
    const r = await startRegateChild({ name: "exit-audit-during", pg: db, overrides: DRAIN });
    await check(r, "SIGTERM", "during", () => r.stdout());
  }, 120_000);

  it("SIGINT during a burst", async () => {
    const r = await startRegateChild({ name: "exit-audit-sigint", pg: db, overrides: DRAIN });
    await check(r, "SIGINT", "during", () => r.stdout());
  }, 120_000);

  it("workers: 2, SIGTERM during a burst: both workers' lines", async () => {
    const r = await startRegateChild({ name: "exit-audit-workers", pg: db, overrides: { workers: 2, ...DRAIN } });
    await until(() => r.stdout().includes('"msg":"cluster ready"'), 30_000);
    await check(r, "SIGTERM", "during", () => r.stdout());
  }, 120_000);

  for (const workers of [1, 2]) {
    it(`a stdout pipe read slowly (workers: ${workers}), SIGTERM right after a burst`, async () => {
      const r = await startRegateChild({ name: `exit-audit-slow-${workers}`, pg: db, stdout: "unread", overrides: { workers } });
      // One chunk (at most 64 KiB) every 20 ms: about 3 MB/s, slower than the burst writes its lines.
      let out = r.stdout();
      const pipe = r.process.stdout!;
      pipe.on("data", (chunk: Buffer) => {
        out += chunk.toString("utf8");
        pipe.pause();
        setTimeout(() => pipe.resume(), 20);
      });
      pipe.resume();
      const ended = new Promise<void>((resolve) => pipe.once("end", resolve));
      // Everything the process wrote: read on (slowly) until the pipe closes.
      const all = async () => {
        await ended;
        return out;
      };
      try {
        if (workers > 1) await until(() => out.includes('"msg":"cluster ready"'), 30_000);
        await check(r, "SIGTERM", "after", all);
      } finally {
        pipe.removeAllListeners("data");
      }
    }, 120_000);
  }
});
