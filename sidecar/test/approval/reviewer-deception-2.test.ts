// Red-team cases left open by reviewer-deception.test.ts: what a responder reads in `regate recordings
// replay`, what `regate approvals` prints, how an HTTP body a reviewer approves is shown (its type, its
// encoding, bytes that are not text, its cut), and who the admin listener answers. Real regate with the HTTP
// listener, the admin API and the CLI as a reviewer runs it.
import { request } from "node:http";
import { createServer, type Server as HttpServer } from "node:http";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalsCommand } from "../../src/cli/approvals.js";
import { formatTimeline, type ChainRecord } from "../../src/recording/index.js";
import type { TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";
import { api, approvalBundle, REVIEWER } from "./support.js";

/** What Node's fetch sends of its own: request headers the approval digest covers, shown to reviewers. */
const FETCH_HEADERS = "accept: */*\naccept-language: *\nsec-fetch-mode: cors\nuser-agent: node";

let upstream: HttpServer;
let regate: TestRegate;
const received: Buffer[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push(Buffer.concat(chunks));
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const none = { user: "none", password: "none-password-unused" };
  const noPostgres = { host: "127.0.0.1", port: 1, database: "none", users: { scram: none, md5: none }, adminPassword: "none-admin-unused" } as unknown as TestPostgres;
  // As startApprovingRegate, with a name configured for the admin listener.
  regate = await startRegate(noPostgres, {
    postgres: { enabled: false },
    agents: { tokens: [{ subject: AGENT.user, groups: ["agents"], token: { value: AGENT.token } }] },
    http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` }] },
    policy: { bundle: approvalBundle({ reason: "refunds need approval", approvers: [], timeout_seconds: 120, mode: "defer", grant_seconds: 60 }), watch_interval_ms: 0 },
    admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, allowed_hosts: ["regate-admin.internal"] },
    approvals: { enabled: true, timeout_seconds: 120, reviewers: [{ name: REVIEWER.name, token: { value: REVIEWER.token }, groups: ["dba-oncall"] }] },
  });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  upstream?.close();
});

/** Posts `body` with `headers`; the approval it asked for, as the admin API gives it to a reviewer. */
async function held(body: Buffer, headers: Record<string, string>): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${regate.app.ports.http}/api/refunds`, { method: "POST", headers: { authorization: `Bearer ${AGENT.token}`, ...headers }, body });
  const answer = (await r.json()) as { approval_id?: string };
  expect(r.status).toBe(403);
  return (await api(regate, `/approvals/${answer.approval_id}`)).body;
}

async function cli(...argv: string[]): Promise<{ status: number; out: string }> {
  let out = "";
  const status = await approvalsCommand([...argv, "--url", `http://127.0.0.1:${regate.app.ports.admin}`], { REGATE_REVIEWER_TOKEN: REVIEWER.token }, { out: (s) => void (out += s), err: (s) => void (out += s) });
  return { status, out };
}

/** A GET to the admin listener with the Host header given (fetch will not set one). */
function adminGet(path: string, host: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: regate.app.ports.admin, path, headers: { host, ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("recordings replay on the CLI shows what PostgreSQL ran", () => {
  const stmt = (sql: string): ChainRecord => ({ type: "statement", ts: "2026-11-30T21:00:00.000Z", stmt: 1, sql, decision: { outcome: "allow", decision_id: "d1" } }) as unknown as ChainRecord;

  it("a carriage return that ends a -- comment is a mark and the code after it is not folded into the comment", () => {
    const out = formatTimeline([stmt("UPDATE payments SET paid = true WHERE id = 31 -- only row 31\rOR id BETWEEN 32 AND 34")]);
    expect(out).toContain("-- only row 31⟨U+000D⟩ OR id BETWEEN 32 AND 34");
  });

  it("zero-width and bidi characters are marks, not nothing or a reordered line", () => {
    const out = formatTimeline([stmt("DELETE FROM logs WHERE id = 1 -- \u202eKCOL\u202c\u200b")]);
    expect(out).toContain("-- ⟨U+202E⟩KCOL⟨U+202C⟩⟨U+200B⟩");
    expect(out).not.toMatch(/[\u200b-\u200f\u202a-\u202e\u2066-\u2069]/u);
  });

  it("the record itself is left as it was (the marks are for reading only)", () => {
    const r = stmt("SELECT 1 -- a\rOR true");
    formatTimeline([r]);
    expect((r as unknown as { sql: string }).sql).toBe("SELECT 1 -- a\rOR true");
  });
});

describe("an HTTP body held for a reviewer", () => {
  it("sent gzip-compressed: shown inflated, with its Content-Type and Content-Encoding, and said so", async () => {
    const a = await held(gzipSync('{"order": 77, "note": "refund"}'), { "content-type": "application/json", "content-encoding": "gzip" });
    expect(a.statement.sql).toBe(`POST /refunds\nContent-Type: application/json\nContent-Encoding: gzip\n${FETCH_HEADERS}`);
    expect(a.statement.parameters).toEqual(['{"order": 77, "note": "refund"}']);
    expect(a.statement.notes.join(" ")).toMatch(/^Body came compressed \(gzip, \d+ bytes\) and is shown inflated, as regate forwards it \(31 bytes\)\.$/);
  });

  it("a form body reads as a form: its Content-Type is shown", async () => {
    const a = await held(Buffer.from("order=78&_note=x"), { "content-type": "application/x-www-form-urlencoded" });
    expect(a.statement.sql).toBe(`POST /refunds\nContent-Type: application/x-www-form-urlencoded\n${FETCH_HEADERS}`);
  });

  it("bytes that are not UTF-8 are marked as bytes, not shown as U+FFFD; a real U+FFFD stays itself", async () => {
    const a = await held(Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xc3]), Buffer.from('x","b":"\ufffd"}')]), { "content-type": "application/octet-stream" });
    expect(a.statement.parameters[0]).toBe('{"a":"⟨byte 0xFF⟩⟨byte 0xC3⟩x","b":"\ufffd"}');
    expect(a.statement.notes).toHaveLength(2);
    expect(a.statement.notes).toContain("Body: 2 bytes are not UTF-8 text, shown as ⟨byte 0xNN⟩ marks; the upstream gets the bytes themselves.");
    expect(a.statement.notes).toContainEqual(expect.stringMatching(/^Body: Non-ASCII characters.*\ufffd U\+FFFD\.$/));
  });

  it("a body past what is shown is cut by a flag, not by its text: a body ending in '… (N bytes)' is not called cut", async () => {
    const forged = await held(Buffer.from('{"x": "… (99 bytes)"}'.replace('"}', "") + "… (99 bytes)"), { "content-type": "text/plain" });
    expect(forged.statement.notes ?? []).not.toContainEqual(expect.stringMatching(/cut/));
    expect(forged.statement.parameters[0]).toContain("… (99 bytes)");
    const big = await held(Buffer.from(`${"a".repeat(20_000)}é`), { "content-type": "text/plain" });
    expect(big.statement.parameters[0]).toBe(`${"a".repeat(16 * 1024)}⟨cut: the body is 20002 bytes⟩`);
    expect(big.statement.notes).toContain("Body is cut: it is 20002 bytes and only its start is shown; approving approves all of it.");
  });

  it("a 2-byte character split by the cut is left out, not marked as bad bytes", async () => {
    const a = await held(Buffer.from(`${"a".repeat(16 * 1024 - 1)}é tail`), { "content-type": "text/plain" });
    expect(a.statement.parameters[0]).toBe(`${"a".repeat(16 * 1024 - 1)}⟨cut: the body is ${16 * 1024 + 6} bytes⟩`);
  });
});

describe("the review page (Debian chromium)", () => {
  it("shows an HTTP request's Content-Type and Content-Encoding, its body inflated, bytes that are not text as marks, and the notes", async () => {
    const a = await held(gzipSync(Buffer.concat([Buffer.from("order=81&x="), Buffer.from([0xfe])])), { "content-type": "application/x-www-form-urlencoded", "content-encoding": "gzip" });
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${regate.app.ports.admin}/approvals/ui`);
      await page.fill("#token", REVIEWER.token);
      await page.click("#login button");
      const card = page.locator(`.card[data-id="${a.id}"]`);
      await card.waitFor();
      expect(await card.locator("pre.sql").innerText()).toBe(`POST /refunds\nContent-Type: application/x-www-form-urlencoded\nContent-Encoding: gzip\n${FETCH_HEADERS}`);
      expect(await card.locator("pre.params").innerText()).toBe("body: order=81&x=⟨byte 0xFE⟩");
      const notes = await card.locator("ul.notes li").allInnerTexts();
      expect(notes).toContainEqual(expect.stringMatching(/^Body came compressed \(gzip, \d+ bytes\) and is shown inflated, as regate forwards it \(12 bytes\)\.$/));
      expect(notes).toContain("Body: 1 byte is not UTF-8 text, shown as ⟨byte 0xNN⟩ marks; the upstream gets the bytes themselves.");
    } finally {
      await browser.close();
    }
  });
});

describe("regate approvals on the CLI", () => {
  it("show and approve print the notes: the reviewer is told what was marked and inflated", async () => {
    const a = await held(gzipSync('{"order": 79}\u200b'), { "content-type": "application/json", "content-encoding": "gzip" });
    const shown = await cli("show", a.id);
    expect(shown.out).toContain("request     POST /refunds\n              Content-Type: application/json\n              Content-Encoding: gzip");
    expect(shown.out).toContain("read first  * Body came compressed (gzip");
    expect(shown.out).toContain("U+200B ZERO WIDTH SPACE");
    expect(shown.out).toContain('body        {"order": 79}⟨U+200B⟩');
    const list = await cli("list");
    expect(list.out).toMatch(new RegExp(`${a.id} .*\\(2 notes: read them with show\\)`));
    const approved = await cli("approve", a.id);
    expect(approved.status).toBe(0);
    expect(approved.out).toContain("read first  * Body came compressed (gzip");
    expect(approved.out).toContain(`${a.id} approved by ${REVIEWER.name}`);
  });
});

describe("the admin listener", () => {
  it("refuses a Host it was not configured for (DNS rebinding), answers loopback, IP literals and configured names", async () => {
    expect((await adminGet("/healthz", "attacker.example:80")).status).toBe(421);
    expect((await adminGet("/approvals", "rebind.attacker.example", REVIEWER.token)).status).toBe(421);
    expect((await adminGet("/healthz", `localhost:${regate.app.ports.admin}`)).status).toBe(200);
    expect((await adminGet("/healthz", `127.0.0.1:${regate.app.ports.admin}`)).status).toBe(200);
    expect((await adminGet("/healthz", `[::1]:${regate.app.ports.admin}`)).status).toBe(200);
    expect((await adminGet("/healthz", "regate-admin.internal")).status).toBe(200);
    expect((await adminGet("/approvals", "REGATE-ADMIN.internal.", REVIEWER.token)).status).toBe(200);
  });

  it("/status without a token says states only; with a reviewer's token, all of it", async () => {
    const anon = JSON.parse((await adminGet("/status", "127.0.0.1")).body) as { labels: Record<string, string>; bundles: Record<string, Record<string, unknown>> };
    expect(anon.labels).toEqual({ app: "regate" });
    for (const b of Object.values(anon.bundles)) expect(Object.keys(b).sort()).toEqual(expect.arrayContaining(["name"]));
    for (const b of Object.values(anon.bundles)) expect(b["source"]).toBeUndefined();
    const full = JSON.parse((await adminGet("/status", "127.0.0.1", REVIEWER.token)).body) as { labels: Record<string, string>; bundles: Record<string, Record<string, unknown>> };
    expect(full.labels["id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.values(full.bundles)[0]!["source"]).toBeDefined();
  });

  it("/metrics carries no agent-chosen label values: no subject, path, table or statement text", async () => {
    await held(Buffer.from('{"order": 80}'), { "content-type": "application/json" });
    const text = (await adminGet("/metrics", "127.0.0.1")).body;
    expect(text).not.toContain(AGENT.user);
    expect(text).not.toContain("/refunds");
    expect(text).not.toContain("order");
    const labels = new Set([...text.matchAll(/[{,]([a-z_]+)="/g)].map((m) => m[1]));
    for (const l of labels) expect(["outcome", "kind", "revision", "code", "route", "le", "protocol", "exporter", "slot", "by", "version", "major", "minor", "patch", "space", "type", "kind", "reason"]).toContain(l);
  });
});
