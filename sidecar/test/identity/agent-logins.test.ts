// Agent tokens cannot be guessed by asking fast: failed logins on the Postgres listener (SCRAM with the real pg
// driver, and the cleartext token path) and on the HTTP listener are counted, and past the limit attempts are
// refused before any credential is checked (AUTH_THROTTLED: 53300 / 429 with Retry-After). The right token
// works again as soon as the count drains; a configured agent is never locked out by guesses made elsewhere.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";

const OTHER = { user: "other-agent", token: "other-agent-token-51be0c" };
let db: TestPostgres;
let regate: TestRegate;
let upstream: Server;
let upstreamHits = 0;

beforeAll(async () => {
  db = await startPostgres();
  upstream = createServer((_req, res) => {
    upstreamHits++;
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  regate = await startRegate(db, {
    // Three failures, then one more each second.
    agents: {
      tokens: [
        { subject: AGENT.user, groups: ["agents"], token: { value: AGENT.token } },
        { subject: OTHER.user, groups: ["agents"], token: { value: OTHER.token } },
      ],
      failed_logins: { per_source: 3, overall: 6, window_seconds: 3 },
    },
    admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 } },
    approvals: { enabled: true, reviewers: [{ name: "alice", token: { value: "reviewer-token-3c9e1b" } }] },
    http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` }] },
  });
}, 120_000);
afterAll(async () => {
  await regate?.stop();
  await db?.stop();
  upstream?.close();
});

async function login(user: string, token: string): Promise<{ ok: true } | { ok: false; code: string; message: string }> {
  const c = new pg.Client({ connectionString: regate.url(user, token) });
  c.on("error", () => {});
  try {
    await c.connect();
    await c.query("SELECT 1");
    return { ok: true };
  } catch (err) {
    const e = err as pg.DatabaseError;
    return { ok: false, code: e.code ?? "", message: e.message };
  } finally {
    await c.end().catch(() => {});
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function get(token: string): Promise<{ status: number; retryAfter: string | null; body: any }> {
  const r = await fetch(`http://127.0.0.1:${regate.app.ports.http!}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, retryAfter: r.headers.get("retry-after"), body: await r.json() };
}

describe("failed agent logins", () => {
  it("Postgres SCRAM: wrong passwords for an agent are refused 28P01 until the limit, then 53300 before any check, the right token too; it works again once drained; other agents are untouched", async () => {
    for (let i = 0; i < 3; i++) expect(await login(AGENT.user, `wrong-guess-${i}-xxxxxxxx`)).toMatchObject({ ok: false, code: "28P01" });
    const refused = await login(AGENT.user, AGENT.token);
    expect(refused).toMatchObject({ ok: false, code: "53300" });
    expect((refused as { message: string }).message).toMatch(/user "test-agent" failed to log in 3 times within 3 s: new attempts are refused for 1 s/);
    expect(await login(AGENT.user, "wrong-guess-again-xxxxxxxx")).toMatchObject({ ok: false, code: "53300" });
    // Guessing one agent's token never locks another agent out.
    expect(await login(OTHER.user, OTHER.token)).toEqual({ ok: true });
    await sleep(1100);
    expect(await login(AGENT.user, AGENT.token)).toEqual({ ok: true });
    const logs = regate.logs();
    expect(logs).toContain('"event":"agent_logins_throttled"');
    expect(logs).not.toContain("wrong-guess");
  }, 30_000);

  it("HTTP bearer: unknown tokens are 401 until the limit, then 429 with Retry-After before any check; nothing reaches the upstream; the right token works once drained", async () => {
    await sleep(3100);
    const hits = upstreamHits;
    for (let i = 0; i < 3; i++) expect((await get(`guess-${i}-aaaaaaaaaaaaaaaa`)).status).toBe(401);
    const throttled = await get(AGENT.token);
    expect(throttled.status).toBe(429);
    expect(throttled.retryAfter).toBe("1");
    expect(throttled.body).toMatchObject({ error: "too_many_failed_logins", code: "AUTH_THROTTLED" });
    expect(throttled.body.reason).toMatch(/agents at 127\.0\.0\.1 failed to log in 3 times within 3 s/);
    expect(upstreamHits).toBe(hits);
    await sleep(1100);
    expect((await get(AGENT.token)).status).toBe(200);
    expect(upstreamHits).toBe(hits + 1);
  }, 30_000);

  it("HTTP /.regate/approvals (answered for any token) counts and is refused alike, with the gateway", async () => {
    await sleep(3100);
    const own = (token: string) => fetch(`http://127.0.0.1:${regate.app.ports.http!}/.regate/approvals`, { headers: { authorization: `Bearer ${token}` } });
    expect((await own(AGENT.token)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await own(`guess-${i}-cccccccccccccccc`)).status).toBe(401);
    const r = await own(AGENT.token);
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).toBe("1");
    expect(await r.json()).toMatchObject({ error: "too_many_failed_logins", code: "AUTH_THROTTLED" });
    expect((await get(AGENT.token)).status).toBe(429);
  }, 30_000);

  it("a guesser who changes user names is bounded by the overall limit; a configured agent (SCRAM) still logs in", async () => {
    await sleep(3100);
    const results: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await login(`nobody-${i}`, `guess-${i}-bbbbbbbbbbbbbbbb`);
      results.push(r.ok ? "ok" : r.code);
    }
    // Each name fails once (28P01) until all of them together reach the overall limit (6).
    expect(results).toEqual(["28P01", "28P01", "28P01", "28P01", "28P01", "28P01", "53300", "53300"]);
    expect(await login(AGENT.user, AGENT.token)).toEqual({ ok: true });
  }, 30_000);
});

describe("agent token length", () => {
  const config = (token: string) => stringify({ policy: { bundle: "/nonexistent.tar.gz" }, agents: { tokens: [{ subject: "billing-bot", token: { env: "BILLING_TOKEN" } }] } });

  it("refuses at start an agent token shorter than 16 characters, naming the agent, not the token or its length", () => {
    let err: unknown;
    try {
      loadConfig({ text: config(""), env: { BILLING_TOKEN: "hunter2-7305" } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain("agents.tokens[0].token (agent billing-bot): shorter than 16 characters, guessable through the Postgres and HTTP listeners; give billing-bot a random one (openssl rand -base64 24)");
    expect(message).not.toContain("hunter2");
    expect(message).not.toMatch(/\b12\b/);
  });

  it("accepts one of 16 characters or more (the README's demo token has 16)", () => {
    expect(loadConfig({ text: config(""), env: { BILLING_TOKEN: "demo-agent-token" } }).agents.tokens).toHaveLength(1);
  });
});
