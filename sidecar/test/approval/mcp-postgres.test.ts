// The official PostgreSQL MCP server (@modelcontextprotocol/server-postgres, pinned) driven by the MCP SDK
// client over stdio, connected to PostgreSQL through regate, under the example policy with payments
// writes deferred. That server runs every query inside BEGIN TRANSACTION READ ONLY and turns an error
// into the tool call's error, so what the agent reads is regate's first line (or the server's own error).
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { CAPABILITIES, OPA } from "../policy/opa.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { api, startApprovingRegate } from "./support.js";

const SERVER = join(packageRoot, "node_modules", "@modelcontextprotocol", "server-postgres", "dist", "index.js");

/** The example policy with its Postgres approvals in defer mode, built by the real opa CLI. */
function deferringExamplePolicy(): string {
  const dir = mkdtempSync(join(tmpdir(), "regate-mcp-pg-"));
  cpSync(join(packageRoot, "rego"), join(dir, "rego"), { recursive: true });
  const file = join(dir, "rego", "regate", "decision.rego");
  const text = readFileSync(file, "utf8");
  const changed = text.replace('{"mode": "hold", "hold_max_seconds": 45, "approvers": ["dba-oncall"]}', '{"mode": "defer", "approvers": ["dba-oncall"]}');
  if (changed === text) throw new Error("the example policy's approval terms moved: update this test");
  writeFileSync(file, changed);
  const out = join(dir, "bundle.tar.gz");
  execFileSync(OPA, ["build", "-t", "wasm", "-e", "regate/decision", "-e", "system/log/mask", "--capabilities", CAPABILITIES, "--ignore", "*_test.rego", "-r", "mcp-defer", "-o", out, join(dir, "rego")], { stdio: "pipe" });
  return out;
}

let db: TestPostgres;
let regate: TestRegate;
let client: Client;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startApprovingRegate(db, {}, deferringExamplePolicy());
  client = new Client({ name: "agent", version: "1.0.0" });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [SERVER, regate.url()], stderr: "pipe" }));
}, 120_000);

afterAll(async () => {
  await client?.close();
  await regate?.stop();
  await db?.stop();
});

const query = (sql: string) => client.callTool({ name: "query", arguments: { sql } });
const failure = async (sql: string) => ((await query(sql).then(() => undefined, (e: unknown) => e)) as Error | undefined)?.message ?? "";
const FIRST_LINE = (why: string, next: string) => new RegExp(`regate refused this statement: ${why} \\(decision [0-9a-f-]{36}\\)\\. Next: ${next}`);

describe("@modelcontextprotocol/server-postgres through regate (stdio, MCP SDK client)", () => {
  it("an allowed read returns rows", async () => {
    const r = (await query("SELECT id FROM orders ORDER BY id LIMIT 1")) as { content: { type: string; text: string }[] };
    expect(JSON.parse(r.content[0]!.text)).toEqual([{ id: 1 }]);
  });

  it("a denied read: the tool error is regate's first line with the reason, decision id and next step", async () => {
    expect(await failure("SELECT secret FROM internal.api_keys")).toMatch(FIRST_LINE("internal\\.\\* is never accessible; reading internal\\.api_keys is not allowed", "do not retry: internal\\.\\* is never accessible through regate"));
  });

  it("a write without WHERE: refused with the next step to add one", async () => {
    expect(await failure("DELETE FROM orders")).toMatch(FIRST_LINE("DELETE without WHERE is not allowed", "add a WHERE clause that names the rows to change"));
  });

  it("an approval-gated write in defer mode: approval requested; approved by a reviewer; the re-run goes through regate once", async () => {
    const before = Number((await db.query("SELECT amount FROM payments WHERE id = 61"))[0].amount);
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 61";
    const first = await failure(sql);
    expect(first).toMatch(/regate refused this statement: approval requested as apr_[0-9a-f]{16}; re-run the same statement after a reviewer approves; it expires at \S+ \(decision [0-9a-f-]{36}\)\. Next: wait for a reviewer to approve/);
    const id = /apr_[0-9a-f]{16}/.exec(first)![0];
    expect(await failure(sql)).toContain(`still pending as ${id}`);
    const a = (await api(regate, `/approvals/${id}`)).body;
    expect((await api(regate, `/approvals/${id}/approve`, { sha256: a.sha256, comment: "ok" })).status).toBe(200);
    // regate lets the identical re-run through once; this server runs it in a READ ONLY transaction, so
    // PostgreSQL itself refuses the write (25006) and nothing changes.
    expect(await failure(sql)).toMatch(/^MCP error -?\d+: cannot execute UPDATE in a read-only transaction$/);
    expect((await api(regate, `/approvals/${id}`)).body.used_at).toEqual(expect.any(String));
    expect(Number((await db.query("SELECT amount FROM payments WHERE id = 61"))[0].amount)).toBe(before);
    // Used up: the next identical call asks anew.
    const again = await failure(sql);
    expect(again).toMatch(/approval requested as apr_/);
    expect(again).not.toContain(id);
  });
});
