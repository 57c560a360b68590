// Fault: a policy that errors or runs long at evaluation. An error fails closed (42501 with the reason, a
// logged deny with error_code) for that statement only; a long evaluation is measured (docs/reliability.md).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { buildBundle } from "./support/bundles.js";
import { startRegateChild, type RegateChild } from "./support/regate-child.js";

// Allows everything, except: "boom" in the SQL makes `decision` conflict (an evaluation error), "spin" makes
// it search SPIN x SPIN pairs for one that never matches before it decides.
const SPIN = Number(process.env["REL_SPIN"] ?? 700);
const POLICY = `package regate

sql := concat(" ", [s.sql | some s in input.postgres.statements])

boom if contains(sql, "boom")

spin if {
	contains(sql, "spin")
	some i in numbers.range(1, ${SPIN})
	some j in numbers.range(1, ${SPIN})
	i * j == -1
}

decision := {"allow": true, "deny": [], "mask": []} if not spin

decision := {"allow": false, "deny": ["boom"], "mask": []} if boom
`;

let db: TestPostgres;
let regate: RegateChild;
const clients: pg.Client[] = [];

async function agent(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

beforeAll(async () => {
  db = await startPostgres({ loadDemo: false });
  regate = await startRegateChild({ name: "policy-eval", pg: db, bundle: buildBundle("eval-faults", { "policy.rego": POLICY }, false) });
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

describe("policy evaluation faults", () => {
  it("an evaluation error refuses that statement only, says why, and the session lives on", async () => {
    const a = await agent();
    const b = await agent();
    const err = (await a.query("SELECT 'boom' AS x").then(
      () => undefined,
      (e: unknown) => e,
    )) as (Error & { code?: string; hint?: string; detail?: string }) | undefined;
    expect(err?.code).toBe("42501");
    expect(err?.message).toMatch(/regate refused/i);
    expect(`${err?.message} ${err?.hint ?? ""}`).toMatch(/POLICY_EVAL_FAILED|evaluation/i);
    await expect(a.query("SELECT 1 AS n")).resolves.toMatchObject({ rows: [{ n: 1 }] });
    await expect(b.query("SELECT 2 AS n")).resolves.toMatchObject({ rows: [{ n: 2 }] });
    const events = regate
      .stdout()
      .split("\n")
      .filter((l) => l.includes('"msg":"Decision Log"') && l.includes("boom"))
      .map((l) => JSON.parse(l) as Record<string, any>);
    expect(events.length).toBeGreaterThan(0);
    expect(events[0]!["outcome"]).toBe("deny");
    expect(events[0]!["error_code"] ?? events[0]!["result"]?.["error_code"] ?? JSON.stringify(events[0])).toMatch(/POLICY_EVAL_FAILED/);
  }, 60_000);

  it("a long evaluation: measured how long it holds the statement and the other sessions", async () => {
    const spinner = await agent();
    const other = await agent();
    await other.query("SELECT 0");
    const t0 = performance.now();
    const spun = spinner.query("SELECT 'spin' AS x").then(
      () => "allowed",
      (e: Error & { code?: string }) => `refused ${e.code}`,
    );
    await new Promise((r) => setTimeout(r, 50));
    const o0 = performance.now();
    await other.query("SELECT 1");
    const otherMs = Math.round(performance.now() - o0);
    const outcome = await spun;
    const spinMs = Math.round(performance.now() - t0);
    process.stdout.write(`spin ${SPIN}x${SPIN}: ${outcome} after ${spinMs} ms; another session's SELECT 1 took ${otherMs} ms meanwhile\n`);
    expect(outcome).toBe("refused 42501"); // `decision` is undefined when spin holds: fails closed
  }, 120_000);
});
