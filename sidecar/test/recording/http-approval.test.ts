import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { Writable } from "node:stream";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import { findRecording, recordingFiles, verifyDir } from "../../src/recording/index.js";
import { AGENT_TOKEN, startUpstream, type Upstream } from "../http/fixtures.js";
import { BUNDLE } from "../support/regate.js";
import { keepOutput, outputDir, writeSecrets } from "../support/test-output.js";

// An HTTP refund under the example policy (approve, defer mode): the agent is answered 403 APPROVAL_PENDING,
// a reviewer approves over the admin API, the identical request goes through. The connection's recording
// holds the whole story in order: the request, the approval asked, the refusal, the approval given (by whom),
// the re-sent request and its 200.

const REVIEWER = { name: "fiona", token: `reviewer-token-${process.pid}-91ab` };
const root = outputDir("suite", "recording-http-approval");
const dir = join(root, "recordings");
let upstream: Upstream;
let app: App;
const lines: string[] = [];
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

function post(path: string, body: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `http://127.0.0.1:${app.ports.http}/api${path}`,
      { method: "POST", agent: keepAlive, headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) } },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || "{}") as Record<string, any> }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const admin = async (path: string, body?: unknown) => {
  const res = await fetch(`http://127.0.0.1:${app.ports.admin}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${REVIEWER.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

beforeAll(async () => {
  upstream = await startUpstream();
  const config = loadConfig({
    text: stringify({
      policy: { bundle: BUNDLE, watch_interval_ms: 0 },
      agents: { tokens: [{ subject: "support-bot", groups: ["support"], token: { value: AGENT_TOKEN } }] },
      postgres: { enabled: false },
      http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: upstream.url }] },
      admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 } },
      approvals: { enabled: true, timeout_seconds: 60, reviewers: [{ name: REVIEWER.name, token: { value: REVIEWER.token }, groups: ["finance"] }] },
      recording: { enabled: true, dir, http_idle_seconds: 60 },
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
  writeSecrets(root, [AGENT_TOKEN, REVIEWER.token]);
}, 60_000);

afterAll(async () => {
  keepAlive.destroy();
  await app?.close();
  await upstream?.close();
  keepOutput("suite", "recording-http-approval-log", lines.join(""), [AGENT_TOKEN, REVIEWER.token]);
});

describe("an HTTP approval in the recording", () => {
  it("request, approval asked, 403, approval given by the reviewer, the re-sent request forwarded, in that order", async () => {
    const first = await post("/refunds", { order: 701 });
    expect(first.status).toBe(403);
    expect(first.body).toMatchObject({ code: "APPROVAL_PENDING" });
    const pending = (await admin("/approvals")).body["approvals"] as { id: string; sha256: string; status: string }[];
    const a = pending.find((x) => x.status === "pending")!;
    expect((await admin(`/approvals/${a.id}/approve`, { sha256: a.sha256, comment: "refund ok" })).status).toBe(200);
    const again = await post("/refunds", { order: 701 });
    expect(again.status).toBe(200);
    await app.close();

    const [file] = recordingFiles(dir);
    const records = readFileSync(join(dir, file!), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>);
    const story = records.map((r) => (r["type"] === "approval" ? `approval:${r["kind"]}` : r["type"] === "response" ? `response:${r["status"]}` : String(r["type"])));
    expect(story).toEqual(["start", "request", "approval:approval_requested", "response:403", "approval:approval_approved", "request", "response:200", "end"]);
    const requested = records[2]!;
    const approved = records[4]!;
    expect(requested).toMatchObject({ approval_id: a.id, decision_id: records[1]!["decision"].decision_id, request_id: records[1]!["request_id"] });
    expect(approved).toMatchObject({ approval_id: a.id, actor: REVIEWER.name, reason: "refund ok" });
    expect(records[1]!["decision"]).toMatchObject({ outcome: "approve", approve: { reason: "refunds need approval" } });
    expect(records.at(-1)).toMatchObject({ type: "end", reason: "shutdown", requests: 2 });
    expect(findRecording(dir, String(records[0]!["session"]))).toBe(file);
    expect(verifyDir(dir)).toMatchObject({ ok: true, open: [] });
  });
});
