import pg from "pg";
import type { TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

export const RESPONDER = { name: "rita", token: "responder-token-5b7d21" };
export const OTHER = { user: "other-agent", token: "other-agent-token-91c2" };

/** regate with the admin listener on a free port, one responder, and a second agent in group `batch`. */
export function startIncidentRegate(db: TestPostgres, overrides: Record<string, unknown> = {}): Promise<TestRegate> {
  return startRegate(db, {
    admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 } },
    agents: {
      tokens: [
        { subject: "test-agent", groups: ["agents"], token: { value: "agent-token-7f3a9c" } },
        { subject: OTHER.user, groups: ["agents", "batch"], token: { value: OTHER.token } },
      ],
    },
    incident: { responders: [{ name: RESPONDER.name, token: { value: RESPONDER.token } }] },
    ...overrides,
  });
}

export async function admin(regate: TestRegate, method: string, path: string, body?: unknown, token = RESPONDER.token): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${regate.app.ports.admin}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

export async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

export { until } from "../support/wait.js";

/** Upstream backends still running `sql`, seen from a direct connection (not through regate). */
export async function running(db: TestPostgres, sql: string): Promise<number> {
  const rows = await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1 AND state = 'active'", [sql]);
  return rows[0].n as number;
}
