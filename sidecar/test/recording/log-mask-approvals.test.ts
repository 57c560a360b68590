// An approval's reason the policy's system.log.mask keeps out of the decision log stays out of the session
// recording too: the statement record's decision and the approval events that follow it (requested, granted).
// Real PostgreSQL, real regate, a reviewer approving through the admin API.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { recordingsCommand } from "../../src/cli/recordings.js";
import { api, client, heldId, startApprovingRegate, until } from "../approval/support.js";
import { CAPABILITIES, OPA } from "../policy/opa.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";

const REASON = "payments for account Quokka-Lantern-8812 need a human";

const POLICY = `package regate

needs_approval if {
	some s in input.postgres.statements
	some t in s.tables
	t.access == "write"
	t.name == "payments"
}

approval := {"approve": {"reason": ${JSON.stringify(REASON)}, "approvers": "dba-oncall", "timeout_seconds": 30}} if needs_approval
else := {}

decision := object.union({"allow": true, "deny": [], "mask": []}, approval)
`;

const MASK = `package system.log

mask contains {"op": "upsert", "path": "/result/approve/reason", "value": "[reason erased by system.log.mask]"} if input.result.approve
`;

function bundle(): string {
  const dir = mkdtempSync(join(tmpdir(), "regate-apr-mask-"));
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src", "policy.rego"), POLICY);
  writeFileSync(join(dir, "src", "mask.rego"), MASK);
  const out = join(dir, "bundle.tar.gz");
  execFileSync(OPA, ["build", "-t", "wasm", "-e", "regate/decision", "-e", "system/log/mask", "--capabilities", CAPABILITIES, "-r", "apr-mask", "-b", "src", "-o", out], { cwd: dir, stdio: "pipe" });
  return out;
}

let db: TestPostgres;
let regate: TestRegate;
const root = mkdtempSync(join(tmpdir(), "regate-apr-mask-run-"));
const dir = join(root, "recordings");

const text = (): string =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".jsonl"))
        .map((f) => readFileSync(join(dir, f), "utf8"))
        .join("\n")
    : "";

beforeAll(async () => {
  db = await startPostgres();
  regate = await startApprovingRegate(db, {}, bundle(), { recording: { enabled: true, dir } });
}, 300_000);
afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

describe("an approval's reason the log mask hides", () => {
  it("is in neither the decision log nor the recording, which still verifies", async () => {
    const { c, notices } = await client(regate);
    try {
      const held = c.query("UPDATE payments SET amount = amount + 1 WHERE id = $1", [11]);
      const id = await until(() => heldId(notices));
      const shown = await api(regate, `/approvals/${id}`);
      expect((await api(regate, `/approvals/${id}/approve`, { sha256: shown.body.sha256, comment: "ticket 42" })).status).toBe(200);
      expect((await held).rowCount).toBe(1);
    } finally {
      await c.end();
    }
    // The hold really carried the reason (the test is not vacuous), and the log did not.
    expect(notices.map((n) => n.message).join("\n")).toContain("Quokka-Lantern-8812");
    expect(regate.logs()).not.toContain("Quokka-Lantern-8812");
    await vi.waitFor(() => expect(text()).toContain('"kind":"approval_approved"'), { timeout: 15_000, interval: 100 });
    const recorded = text();
    expect(recorded).toContain('"kind":"approval_requested"');
    expect(recorded).toContain("[reason erased by system.log.mask]");
    expect(recorded).not.toContain("Quokka-Lantern-8812");
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(recordingsCommand(["verify", "--dir", dir], {})).toBe(0);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});
