// regate end to end with the real bundle: HTTP requests through the gateway, decisions through the real
// DecisionPipeline, uploaded to a collector in OPA's protocol and written as OCSF JSON lines.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { stringify } from "yaml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import { keepOutput } from "../support/test-output.js";
import { BUNDLE } from "../support/regate.js";
import { Collector } from "./collector.js";
import { setupValidator, validateOcsf } from "./ocsf-validator.js";

const AGENT_TOKEN = "export-agent-token-5d1e";
let upstream: Server;
let upstreamUrl: string;
let dir: string;
const running: { app: App; collector: Collector; keep: () => Promise<void> }[] = [];

beforeAll(async () => {
  await setupValidator();
  dir = await mkdtemp(join(tmpdir(), "regate-export-"));
  upstream = createServer((req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: 1, path: req.url })));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
}, 300_000);

afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
  await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.app.close();
    await r.collector.stop();
    await r.keep();
  }
});

async function start(collector: Collector, decisionLogs: Record<string, unknown>, ocsfFile: string) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      cb();
    },
  });
  const config = loadConfig({
    text: stringify({
      policy: { bundle: BUNDLE, watch_interval_ms: 0 },
      agents: { tokens: [{ subject: "export-agent", groups: ["agents"], token: { value: AGENT_TOKEN } }] },
      postgres: { enabled: false },
      http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: upstreamUrl }] },
      admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 } },
      export: {
        decision_logs: { enabled: true, service_url: collector.url, token: { value: "collector-token" }, min_delay_seconds: 0.05, max_delay_seconds: 0.2, ...decisionLogs },
        ocsf: { enabled: true, sink: "file", file: ocsfFile },
      },
    }),
    env: {},
  });
  const app = await startApp({ config, log: createLogger({ level: "info", destination: sink }) });
  // What regate wrote (log and OCSF file) goes to the secrets sweep, with the secrets it held.
  const keep = async () => {
    const ocsf = await readFile(ocsfFile, "utf8").catch(() => "");
    keepOutput("export", "app", `${lines.join("\n")}\n${ocsf}`, [AGENT_TOKEN, "collector-token"]);
  };
  running.push({ app, collector, keep });
  const decisionLog = () => lines.map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l["msg"] === "Decision Log");
  const request = async (method: string, path: string) => {
    const res = await fetch(`http://127.0.0.1:${app.ports.http}/api${path}`, { method, headers: { authorization: `Bearer ${AGENT_TOKEN}` } });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const metrics = async () => (await fetch(`http://127.0.0.1:${app.ports.admin}/metrics`)).text();
  return { app, decisionLog, request, metrics };
}

async function ocsfLines(file: string): Promise<Record<string, any>[]> {
  return (await readFile(file, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
}

describe("regate with export on", () => {
  it("every decision reaches the collector and the OCSF file, with the ids of the decision log", async () => {
    const collector = await Collector.start();
    const file = join(dir, "ocsf-1.jsonl");
    const r = await start(collector, {}, file);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await r.request(i % 3 === 2 ? "DELETE" : "GET", `/orders/${i}`)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(8);
    expect(statuses.filter((s) => s === 403)).toHaveLength(4);
    await r.app.close();

    const logged = r.decisionLog();
    expect(logged).toHaveLength(12);
    const ids = logged.map((l) => l["decision_id"] as string);
    expect(collector.ids()).toEqual(ids);
    expect(collector.requests.every((q) => q.authorization === "Bearer collector-token")).toBe(true);
    expect(collector.events.map((e) => e["outcome"])).toEqual(logged.map((l) => l["outcome"]));
    expect(collector.events[0]!["bundles"]).toEqual(logged[0]!["bundles"]);

    const ocsf = await ocsfLines(file);
    expect(ocsf.map((e) => e["metadata"].uid)).toEqual(ids);
    expect(ocsf[0]).toMatchObject({ class_uid: 6003, activity_id: 2, api: { operation: "GET /api/orders/0", service: { name: "api" } }, actor: { user: { uid: "export-agent" } }, policy: { uid: logged[0]!["bundles"].regate.revision } });
    expect(ocsf[2]).toMatchObject({ class_uid: 6003, activity_id: 4, action_id: 2, status_id: 2 });
    expect((await validateOcsf(ocsf)).filter((v) => !v.ok)).toEqual([]);
  }, 60_000);

  it("block mode, collector down: requests are refused with 503 DECISION_LOG_BACKPRESSURE, then flow again; nothing decided is lost", async () => {
    const collector = await Collector.down();
    const file = join(dir, "ocsf-2.jsonl");
    const r = await start(collector, { buffer_policy: "block", buffer_size_limit_events: 5 }, file);
    let refusal: Record<string, any> | undefined;
    let waited = 0;
    for (let i = 0; i < 20 && !refusal; i++) {
      const t0 = Date.now();
      const res = await r.request("GET", `/orders/${i}`);
      if (res.status === 503) (refusal = res.body), (waited = Date.now() - t0);
      else expect(res.status).toBe(200);
    }
    // The request waited for room (2 s, as a Postgres statement does) before it was refused.
    expect(waited).toBeGreaterThanOrEqual(1900);
    expect(refusal).toMatchObject({ error: "denied", code: "DECISION_LOG_BACKPRESSURE", reason: expect.stringMatching(/^regate refused this request: the decision-log collector is not keeping up; refused until it does \(decision [0-9a-f-]{36}\)\. Next: retry in a few seconds; regate's decision-log collector is behind\.$/) });
    expect(await r.metrics()).toMatch(/regate_export_refused_decisions_total\{exporter="decision_logs"\} [1-9]/);

    await collector.up();
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await r.request("GET", "/orders/after")).status;
      if (status !== 200) await new Promise((res) => setTimeout(res, 50));
    }
    expect(status).toBe(200);
    await r.app.close();

    const logged = r.decisionLog();
    const made = logged.filter((l) => l["error"]?.code !== "DECISION_LOG_BACKPRESSURE").map((l) => l["decision_id"]);
    const refused = logged.length - made.length;
    expect(refused).toBeGreaterThan(0);
    expect(collector.ids()).toEqual(made);
    // The SIEM sees the refusals too.
    expect((await ocsfLines(file)).filter((e) => e["status_code"] === "DECISION_LOG_BACKPRESSURE")).toHaveLength(refused);
  }, 60_000);
});
