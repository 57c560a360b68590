// Lifecycle events reach the SIEM export from a real session: a held write approved by a reviewer and a
// result cut by a budget, each linked to its decision, all valid OCSF 1.5.0.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, approvalBundle, client, heldId, startApprovingRegate, until } from "../approval/support.js";
import { admin, RESPONDER } from "../incident/support.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { setupValidator, validateOcsf } from "./ocsf-validator.js";

let db: TestPostgres;
let regate: TestRegate;
const root = mkdtempSync(join(tmpdir(), "regate-lifecycle-"));
const file = join(root, "ocsf.jsonl");
const recordings = join(root, "recordings");
type Ev = { class_uid: number; activity_name: string; metadata: { uid: string; correlation_uid?: string }; message: string; unmapped: { regate: Record<string, unknown> }; query_info?: { query_string: string } };
const events = (): Ev[] => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Ev) : []);

beforeAll(async () => {
  await setupValidator();
  db = await startPostgres();
  regate = await startApprovingRegate(db, {}, approvalBundle({ reason: "payments need a human", approvers: "dba-oncall", timeout_seconds: 30 }), {
    export: { ocsf: { enabled: true, sink: "file", file } },
    postgres: { budgets: { rows_per_statement: 10 } },
    incident: { responders: [{ name: RESPONDER.name, token: { value: RESPONDER.token } }] },
    recording: { enabled: true, dir: recordings },
  });
}, 300_000);
afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

describe("lifecycle events in the OCSF export", () => {
  it("a held write approved by a reviewer, and a result cut by a budget", async () => {
    const { c, notices } = await client(regate);
    try {
      const held = c.query("UPDATE payments SET amount = amount + 1 WHERE id = $1", [11]);
      const id = await until(() => heldId(notices));
      const shown = await api(regate, `/approvals/${id}`);
      expect((await api(regate, `/approvals/${id}/approve`, { sha256: shown.body.sha256, comment: "ticket 42" })).status).toBe(200);
      expect((await held).rowCount).toBe(1);
      const cut = await c.query("SELECT g FROM generate_series(1, 1000) g").then(() => undefined, (e: pg.DatabaseError) => e);
      expect(cut?.code).toBe("54000");

      const all = await until(() => {
        const e = events();
        return e.some((x) => x.activity_name === "Budget exceeded, result cut") ? e : undefined;
      });
      const update = all.find((e) => e.class_uid === 6005 && e.activity_name === "Update")!;
      expect(update).toBeDefined();
      const requested = all.find((e) => e.activity_name === "Approval requested")!;
      const granted = all.find((e) => e.activity_name === "Approval granted")!;
      for (const e of [requested, granted]) {
        expect(e.metadata.correlation_uid).toBe(update.metadata.uid);
        expect(e.unmapped.regate).toMatchObject({ event: expect.stringMatching(/^approval_/), approval_id: id });
        expect(e.query_info?.query_string).toBe("UPDATE payments SET amount = amount + 1 WHERE id = $1");
      }
      expect(granted.unmapped.regate["actor"]).toBe("alice");
      expect(granted.message).toBe("Approval granted: ticket 42");
      const select = all.find((e) => e.class_uid === 6005 && e.query_info?.query_string.startsWith("SELECT g FROM generate_series"))!;
      const budget = all.find((e) => e.activity_name === "Budget exceeded, result cut")!;
      expect(budget.metadata.correlation_uid).toBe(select.metadata.uid);
      expect(budget.message).toContain("rows_per_statement");
      // In order: the decision, then what happened to it.
      expect(all.indexOf(requested)).toBeGreaterThan(all.indexOf(update));
      expect(all.indexOf(granted)).toBeGreaterThan(all.indexOf(requested));
      expect((await validateOcsf(all)).filter((v) => !v.ok)).toEqual([]);

      // The hash link: the held (then run) statement's event names its own record in the session's chain.
      const link = update.unmapped.regate["recording"] as { file: string; seq: number; sha256: string };
      expect(link).toMatchObject({ file: expect.stringMatching(/\.jsonl$/), seq: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      const lines = readFileSync(join(recordings, link.file), "utf8").trim().split("\n");
      const hashOf = (l: string) => createHash("sha256").update(l, "utf8").digest("hex");
      const at = lines.findIndex((l) => hashOf(l) === link.sha256);
      expect(at).toBe(link.seq - 1);
      const record = JSON.parse(lines[at]!) as { type: string; seq: number; decision?: { decision_id: string } };
      expect(record).toMatchObject({ type: "statement", seq: link.seq, decision: { decision_id: update.metadata.uid } });
    } finally {
      await c.end();
    }
  }, 120_000);

  it("a session killed by a responder and one ended by a lock", async () => {
    const killed = await client(regate);
    const locked = await client(regate);
    try {
      const sleeping = killed.c.query("SELECT pg_sleep(30)").catch((e: Error) => e);
      const running = await until(async () => (await admin(regate, "GET", "/sessions")).body.sessions.find((x: { current?: { sql: string } }) => x.current?.sql === "SELECT pg_sleep(30)"));
      expect((await admin(regate, "POST", `/sessions/${running.id}/kill`, { reason: "runaway query, INC-7" })).status).toBe(200);
      expect(String(await sleeping)).toContain("runaway query, INC-7");
      const lock = (await admin(regate, "POST", "/locks", { target: { principal: "test-agent" }, message: "credential leaked in INC-9" })).body as { id: string };
      await until(() => events().some((e) => e.activity_name === "Session ended by a lock") || undefined);
      const all = events();
      const kill = all.find((e) => e.activity_name === "Session killed")!;
      expect(kill).toMatchObject({ class_uid: 6005, message: "Session killed: runaway query, INC-7", unmapped: { regate: { event: "session_killed", actor: RESPONDER.name, session_id: running.id } }, query_info: { query_string: "SELECT pg_sleep(30)" } });
      const ended = all.find((e) => e.activity_name === "Session ended by a lock")!;
      expect(ended).toMatchObject({ message: "Session ended by a lock: credential leaked in INC-9", unmapped: { regate: { event: "session_locked", lock_id: lock.id, actor: RESPONDER.name } } });
      expect((await validateOcsf([kill, ended])).filter((v) => !v.ok)).toEqual([]);
      await admin(regate, "DELETE", `/locks/${lock.id}`);
    } finally {
      await killed.c.end().catch(() => undefined);
      await locked.c.end().catch(() => undefined);
    }
  }, 120_000);
});
