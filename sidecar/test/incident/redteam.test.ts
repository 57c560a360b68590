// Red-team cases for kill and locks meeting a held statement: once a responder has asked for a session to
// end, nothing of it may reach the database, whatever a reviewer does meanwhile. Real PostgreSQL, a
// protocol-level client (support/raw-pg.ts), regate in process with a policy built by opa.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { query, Raw } from "../support/raw-pg.js";
import type { TestRegate } from "../support/regate.js";
import { api, approvalBundle, startApprovingRegate } from "../approval/support.js";
import { admin, RESPONDER, until } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startApprovingRegate(db, {}, approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 60, hold_max_seconds: 20 }), {
    incident: { responders: [{ name: RESPONDER.name, token: { value: RESPONDER.token } }] },
  });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);
const text = (body: Buffer, field: string) => new RegExp(`${field}([^\\0]*)\\0`).exec(body.toString("utf8"))?.[1];
const heldIds = (raw: Raw) => raw.messages.filter((m) => m.type === "N").flatMap((m) => /held for approval as (apr_[0-9a-f]{16})/.exec(text(m.body, "M") ?? "")?.[1] ?? []);

async function heldSession(id: number, end: "kill" | "lock"): Promise<{ raw: Raw; approval: string; sha256: string; stop: () => Promise<{ status: number }> }> {
  const raw = await Raw.open(regate.url());
  // A message pipelined behind the held one: the session is not idle, so ending it ends the backend first.
  raw.send(query(`UPDATE payments SET amount = amount + 1 WHERE id = ${id}`), query("SELECT 1"));
  const approval = await until(() => heldIds(raw)[0]);
  const sha256 = (await api(regate, `/approvals/${approval}`)).body.sha256 as string;
  const sessions = (await admin(regate, "GET", "/sessions")).body.sessions as { id: string }[];
  const sid = sessions.find((s) => s.id)!.id;
  const stop = () =>
    end === "kill"
      ? admin(regate, "POST", `/sessions/${sid}/kill`, { reason: "INC-4 runaway agent" })
      : admin(regate, "POST", "/locks", { target: { session: sid }, message: "INC-5 stop this session" });
  return { raw, approval, sha256, stop };
}

describe("ending a session while a statement is held", () => {
  for (const end of ["kill", "lock"] as const) {
    it(`${end}: an approve that arrives while the session is being ended runs nothing; the agent gets 57P01`, async () => {
      const before = await amount(201 + (end === "kill" ? 0 : 1));
      const { raw, approval, sha256, stop } = await heldSession(201 + (end === "kill" ? 0 : 1), end);
      try {
        const stopping = stop();
        // The responder acted first; the reviewer's click lands while regate ends the session.
        await new Promise((r) => setTimeout(r, 2));
        const approved = await api(regate, `/approvals/${approval}/approve`, { sha256 });
        expect([200, 409]).toContain(approved.status);
        expect((await stopping).status).toBe(end === "kill" ? 200 : 201);
        await until(() => raw.messages.some((m) => m.type === "E"));
        const fatal = raw.messages.find((m) => m.type === "E")!;
        expect(text(fatal.body, "C")).toBe("57P01");
        expect(raw.messages.some((m) => m.type === "C")).toBe(false);
        await new Promise((r) => setTimeout(r, 200));
        expect(await amount(201 + (end === "kill" ? 0 : 1))).toBe(before);
        expect((await api(regate, `/approvals/${approval}`)).body.status).not.toBe("approved");
      } finally {
        raw.sock.destroy();
      }
    });
  }
});
