import { existsSync, readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { Writable } from "node:stream";
import { chromium, type Browser } from "playwright-core";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { followCommand } from "../../src/cli/recordings-follow.js";
import { checkJournalHead, type JournalHead } from "../../src/recording/index.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import { AGENT_TOKEN, startUpstream, UPSTREAM_SECRET, type Upstream } from "../http/fixtures.js";
import { BUNDLE } from "../support/regate.js";
import { keepOutput, outputDir, writeSecrets } from "../support/test-output.js";

// The recordings page in a real browser (list, one session's timeline), its API's bearer auth, the audit
// of every read (regate's log and reads.log), and `replay --follow` on a live HTTP session.

const CHROMIUM = "/usr/bin/chromium";
const RESPONDER = { name: "rita", token: `responder-token-${process.pid}-4d2c` };
const root = outputDir("suite", "recording-admin");
const dir = join(root, "recordings");
let upstream: Upstream;
let app: App;
const lines: string[] = [];
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

function get(path: string, agent: Agent | false = keepAlive): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`http://127.0.0.1:${app.ports.http}/api${path}`, { agent, headers: { authorization: `Bearer ${AGENT_TOKEN}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

const admin = (path: string, token?: string) => fetch(`http://127.0.0.1:${app.ports.admin}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

/** The in-process CLI's stdout while `run` lasts. */
async function capture(run: () => Promise<number>): Promise<{ status: number; stdout: string }> {
  const out: string[] = [];
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
  try {
    return { status: await run(), stdout: out.join("") };
  } finally {
    o.mockRestore();
  }
}

beforeAll(async () => {
  upstream = await startUpstream();
  const config = loadConfig({
    text: stringify({
      policy: { bundle: BUNDLE, watch_interval_ms: 0 },
      agents: { tokens: [{ subject: "support-bot", groups: ["support"], token: { value: AGENT_TOKEN } }] },
      postgres: { enabled: false },
      http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: upstream.url, credential: { type: "bearer", secret: { value: UPSTREAM_SECRET } } }] },
      admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 } },
      incident: { responders: [{ name: RESPONDER.name, token: { value: RESPONDER.token } }] },
      recording: { enabled: true, dir, http_idle_seconds: 1 },
    }),
    env: {},
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString("utf8"));
      cb();
    },
  });
  app = await startApp({ config, log: createLogger({ level: "info", destination: sink }) });
  writeSecrets(root, [AGENT_TOKEN, UPSTREAM_SECRET, RESPONDER.token]);
}, 60_000);

afterAll(async () => {
  keepAlive.destroy();
  await app?.close();
  await upstream?.close();
  keepOutput("suite", "recording-admin-log", lines.join(""), [AGENT_TOKEN, UPSTREAM_SECRET, RESPONDER.token]);
});

describe("regate recordings replay --follow", () => {
  it("prints a live session's records as they are written, and stops at its end", async () => {
    expect(await get("/orders/1")).toBe(200);
    const ctrl = new AbortController();
    const { recordings } = (await (await admin("/recordings", RESPONDER.token)).json()) as { recordings: { session: string; end_reason?: string }[] };
    const live = recordings.find((r) => !r.end_reason)!;
    const following = capture(() => followCommand(["replay", live.session, "--follow", "--dir", dir, "--interval-ms", "50"], {}, ctrl.signal));
    await new Promise((r) => setTimeout(r, 150));
    expect(await get("/orders/2")).toBe(200);
    expect(await get("/orders/3", keepAlive)).toBe(200);
    const t = setTimeout(() => ctrl.abort(), 10_000);
    const { status, stdout } = await following;
    clearTimeout(t);
    expect(status).toBe(0);
    const timeline = stdout.trim().split("\n");
    expect(timeline[0]).toMatch(/START /);
    expect(timeline.filter((l) => / ALLOW {2}GET /.test(l)).map((l) => /\/orders\/\d/.exec(l)![0])).toEqual(["/orders/1", "/orders/2", "/orders/3"]);
    expect(timeline.at(-1)).toMatch(/END {2}reason idle {2}3 requests {2}0 refused/);
  });
});

describe("the recordings page and API", () => {
  it("needs a responder or reviewer token, and audits each read with the reader's name", async () => {
    await get("/orders/9", false);
    await get("/orders/9", false);
    expect((await admin("/recordings")).status).toBe(401);
    expect((await admin("/recordings", "not-a-token")).status).toBe(401);
    const list = (await (await admin("/recordings", RESPONDER.token)).json()) as { recordings: { session: string }[] };
    expect(list.recordings.length).toBeGreaterThanOrEqual(3);
    const one = list.recordings[0]!.session;
    const res = await admin(`/recordings/${one}`, RESPONDER.token);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { records: { type: string }[]; timeline: string[]; verify: { ok: boolean } };
    expect(body.records[0]!.type).toBe("start");
    expect(body.timeline).toHaveLength(body.records.length);
    expect((await admin("/recordings/no-such-session", RESPONDER.token)).status).toBe(404);
    // The journal's head, for keeping off the host; the journal still holds it.
    const head = (await (await admin("/recordings/head", RESPONDER.token)).json()) as JournalHead;
    expect(head).toMatchObject({ type: "journal_head", records: expect.any(Number) });
    expect(head.records).toBeGreaterThan(0);
    expect(checkJournalHead(dir, head)).toBeUndefined();
    expect((await admin("/recordings/head")).status).toBe(401);
    const reads = readFileSync(join(dir, "reads.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(reads).toContainEqual(expect.objectContaining({ by: RESPONDER.name, via: "admin", action: "replay", session: one }));
    expect(reads).toContainEqual(expect.objectContaining({ via: "cli", action: "follow" }));
    const logged = lines.join("").split("\n").filter((l) => l.includes('"event":"recording_read"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toContainEqual(expect.objectContaining({ by: RESPONDER.name, action: "replay", session: one }));
  });

  const noBrowser = !existsSync(CHROMIUM);
  it.skipIf(noBrowser)("in a browser: the session list, then one session's timeline with its verdict", async () => {
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${app.ports.admin}/recordings/ui`);
      await page.fill("#token", "not-a-reader");
      await page.click("#login button");
      await page.locator("#status").filter({ hasText: "cannot list recordings: a responder or reviewer token is required" }).waitFor();
      await page.fill("#token", RESPONDER.token);
      await page.click("#login button");
      const first = page.locator("tr.session").first();
      await first.waitFor();
      expect(await page.locator("tr.session").count()).toBeGreaterThanOrEqual(3);
      // The followed session: three GETs, ended idle.
      const followed = page.locator("tr.session", { hasText: "idle" }).filter({ hasText: "support-bot" }).last();
      await followed.click();
      await page.locator("#verify").filter({ hasText: "verifies" }).waitFor();
      const rows = await page.locator("#records td.text").allTextContents();
      expect(rows[0]).toMatch(/START .*principal support-bot/);
      expect(rows.some((r) => /ALLOW {2}GET \[api\] \/orders\//.test(r))).toBe(true);
      expect(rows.some((r) => /-> HTTP 200/.test(r))).toBe(true);
    } finally {
      await browser?.close();
    }
  });
});
