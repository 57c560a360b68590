// The hash link for HTTP: an OCSF event of a recorded HTTP request names the request's own record in the
// recording of its group (by connection), found again by the SHA-256 of its line.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstream, type Upstream } from "../http/fixtures.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let upstream: Upstream;
let regate: TestRegate;
const root = mkdtempSync(join(tmpdir(), "regate-http-link-"));
const file = join(root, "ocsf.jsonl");
const recordings = join(root, "recordings");

beforeAll(async () => {
  [db, upstream] = await Promise.all([startPostgres(), startUpstream()]);
  regate = await startRegate(db, {
    http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `${upstream.url}/api`, credential: { type: "bearer", secret: { value: "upstream-secret-7a1c" } } }] },
    export: { ocsf: { enabled: true, sink: "file", file } },
    recording: { enabled: true, dir: recordings },
  });
}, 120_000);
afterAll(async () => {
  await regate?.stop();
  await upstream?.close();
  await db?.stop();
});

describe("OCSF hash link for HTTP requests", () => {
  it("names the request's own record in its group's recording", async () => {
    const res = await fetch(`http://127.0.0.1:${regate.app.ports.http!}/api/orders/1`, { headers: { authorization: `Bearer ${AGENT.token}` } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    let events: { class_uid: number; metadata: { uid: string }; unmapped: { regate: { recording?: { file: string; seq: number; sha256: string } } } }[] = [];
    for (let i = 0; i < 100 && events.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      if (existsSync(file)) events = readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as (typeof events)[number]);
    }
    const ev = events.find((e) => e.class_uid === 6003)!;
    const link = ev.unmapped.regate.recording!;
    expect(link).toMatchObject({ seq: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const lines = readFileSync(join(recordings, link.file), "utf8").trim().split("\n");
    const at = lines.findIndex((l) => createHash("sha256").update(l, "utf8").digest("hex") === link.sha256);
    expect(at).toBe(link.seq - 1);
    expect(JSON.parse(lines[at]!)).toMatchObject({ type: "request", decision: { decision_id: ev.metadata.uid } });
  });
});
