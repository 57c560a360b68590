import { readdirSync, readFileSync } from "node:fs";
import { connect as tcp } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findRecording, verifyDir } from "../../src/recording/index.js";
import { admin, connect, RESPONDER, running, startIncidentRegate, until } from "../incident/support.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { outputDir } from "../support/test-output.js";

// Through the real app: a responder kills a live Postgres session over the admin API, and the session's
// recording holds the kill as a record of its own (who, why, the running statement with literals masked)
// before its end record; the recording still verifies.

let db: TestPostgres;
let regate: TestRegate;
const dir = join(outputDir("suite", "recording-events"), "recordings");

beforeAll(async () => {
  db = await startPostgres();
  regate = await startIncidentRegate(db, { recording: { enabled: true, dir } });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

describe("lifecycle events in a Postgres recording", () => {
  it("a responder's kill is recorded in the killed session, then its end", async () => {
    const c = await connect(regate.url());
    const sql = "SELECT pg_sleep(30), 'secret-literal-xyz' AS note";
    const killed = c.query(sql).catch((e: { code?: string }) => e);
    await until(async () => (await running(db, sql)) === 1);
    const { body } = await admin(regate, "GET", "/sessions");
    const id = (body.sessions as { id: string }[])[0]!.id;
    expect((await admin(regate, "POST", `/sessions/${id}/kill`, { reason: "runaway query" })).status).toBe(200);
    expect(((await killed) as { code?: string }).code).toBe("57P01");
    await c.end().catch(() => undefined);

    const file = await until(() => {
      const f = findRecording(dir, id);
      return f && readFileSync(join(dir, f), "utf8").includes('"type":"end"') ? f : undefined;
    });
    const records = readFileSync(join(dir, file), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const types = records.map((r) => r["type"]);
    expect(types.slice(0, 2)).toEqual(["start", "statement"]);
    const kill = records.find((r) => r["type"] === "session_killed")!;
    expect(kill).toMatchObject({ kind: "session_killed", actor: RESPONDER.name, reason: "runaway query", path: "postgres" });
    expect(String(kill["subject"])).toContain("pg_sleep(30)");
    expect(String(kill["subject"])).not.toContain("secret-literal-xyz");
    expect(types.indexOf("session_killed")).toBeLessThan(types.indexOf("end"));
    expect(records.at(-1)).toMatchObject({ type: "end", reason: "terminated" });
    expect(verifyDir(dir, file)).toMatchObject({ ok: true });
  });

  it("a client's CancelRequest is a record of its own, before the cancelled statement's result (57014)", async () => {
    const c = await connect(regate.url());
    const sql = "SELECT pg_sleep(20)";
    const cancelled = c.query(sql).catch((e: { code?: string }) => e);
    await until(async () => (await running(db, sql)) === 1);
    // What a driver sends on a new connection: CancelRequest with the key regate gave this session.
    const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
    const msg = Buffer.alloc(16);
    msg.writeInt32BE(16, 0);
    msg.writeInt32BE(80877102, 4);
    msg.writeInt32BE(processID, 8);
    msg.writeInt32BE(secretKey, 12);
    await new Promise<void>((resolve, reject) => {
      const sock = tcp(regate.port, "127.0.0.1", () => sock.end(msg));
      sock.on("close", () => resolve());
      sock.on("error", reject);
    });
    expect(((await cancelled) as { code?: string }).code).toBe("57014");
    await c.end();
    const file = await until(() => {
      const all = readdirSync(dir).filter((n) => n.endsWith(".jsonl") && n !== "journal.jsonl");
      return all.find((n) => {
        const t = readFileSync(join(dir, n), "utf8");
        return t.includes('"type":"cancel"') && t.includes('"type":"end"');
      });
    });
    const records = readFileSync(join(dir, file), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const stmt = records.find((r) => r["type"] === "statement" && r["sql"] === sql)!;
    const types = records.map((r) => r["type"]);
    const cancel = records.find((r) => r["type"] === "cancel")!;
    expect(cancel).toMatchObject({ stmt: stmt["stmt"], decision_id: (stmt["decision"] as { decision_id: string }).decision_id });
    const result = records.find((r) => r["type"] === "result" && r["stmt"] === stmt["stmt"])!;
    expect(result).toMatchObject({ sqlstate: "57014" });
    expect(types.indexOf("cancel")).toBeLessThan(records.indexOf(result));
    expect(verifyDir(dir, file)).toMatchObject({ ok: true });
  });
});
