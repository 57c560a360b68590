// Decision-log upload and OCSF batch export against a real collector (node:http) that is down, slow, or
// answering 500 then 200. Decisions go through the real DecisionPipeline (a stub policy stands in for the
// WASM bundle; app.test.ts runs the real bundle).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline, timeInput, type Decision, type PolicyInput } from "../../src/decision/index.js";
import { createExporters, type ExportSettings, type Exporters } from "../../src/export/index.js";
import type { ActivePolicy } from "../../src/policy/index.js";
import { Collector } from "./collector.js";
import { setupValidator, validateOcsf } from "./ocsf-validator.js";

const REVISION = "rev-collector-test";

/** allow SELECT, deny DELETE: enough to see both outcomes arrive. */
const policy: ActivePolicy = {
  revision: REVISION,
  entrypoints: new Set(["regate/decision"]),
  evaluate(_entrypoint, input) {
    const sql = (JSON.parse(new TextDecoder().decode(input as ArrayBuffer)) as { postgres: { statements: { sql: string }[] } }).postgres.statements[0]!.sql;
    return sql.startsWith("DELETE") ? { allow: false, deny: ["deletes are not allowed"], mask: [] } : { allow: true, deny: [], mask: [] };
  },
};

function input(i: number): PolicyInput {
  const sql = i % 5 === 4 ? `DELETE FROM orders WHERE id = ${i}` : `SELECT * FROM orders WHERE id = ${i}`;
  return {
    version: 1,
    kind: "postgres",
    time: timeInput(Date.now()),
    session: { id: "s1", principal: { subject: "agent-1", groups: ["agents"], claims: {}, auth_method: "token" }, client: { address: "127.0.0.1", port: 40000 }, target: "db", started_at: new Date().toISOString() },
    postgres: { message: "query", statements: [{ kind: sql.startsWith("DELETE") ? "delete" : "select", sql }], search_path: null, transaction_status: "idle" },
  };
}

const BATCH = { min_delay_seconds: 0.05, max_delay_seconds: 0.2, upload_size_limit_bytes: 4096, buffer_size_limit_events: 20, timeout_ms: 2000 };

function settings(over: { decision_logs?: Partial<ExportSettings["decision_logs"]>; ocsf?: Partial<ExportSettings["ocsf"]> }): ExportSettings {
  return {
    decision_logs: { enabled: false, path: "/logs", buffer_policy: "block", ...BATCH, ...over.decision_logs },
    ocsf: { enabled: false, sink: "https", file: "unused.jsonl", splunk: { source: "regate", sourcetype: "ocsf:regate" }, buffer_policy: "block", ...BATCH, ...over.ocsf },
  };
}

const token = (value: string) => ({ reveal: () => value });
let exporters: Exporters | undefined;
const collectors: Collector[] = [];

function start(cfg: ExportSettings): { pipeline: DecisionPipeline; exporters: Exporters } {
  exporters = createExporters(cfg, { log: pino({ level: "silent" }), bundle_name: "regate", labels: { app: "regate" }, product_version: "0.0.0-test" });
  return { pipeline: new DecisionPipeline({ policy: () => policy, entrypoint: "regate/decision", dryRun: false, sinks: exporters.sinks }), exporters };
}

/**
 * An agent that retries a refused statement: decides `n` statements; a DECISION_LOG_BACKPRESSURE denial is retried
 * after a pause (the statement did not run). Returns the decisions that were made (the ones that must arrive).
 */
async function drive(pipeline: DecisionPipeline, n: number, onStep?: (i: number) => Promise<void> | void): Promise<{ decided: Decision[]; refused: number }> {
  const decided: Decision[] = [];
  let refused = 0;
  for (let i = 0; i < n; i++) {
    await onStep?.(i);
    for (;;) {
      const d = pipeline.decide(input(i));
      if (d.error_code !== "DECISION_LOG_BACKPRESSURE") {
        decided.push(d);
        break;
      }
      expect(d.outcome).toBe("deny");
      refused++;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return { decided, refused };
}

async function collector(): Promise<Collector> {
  const c = await Collector.start();
  collectors.push(c);
  return c;
}

afterEach(async () => {
  await exporters?.close();
  exporters = undefined;
  await Promise.all(collectors.splice(0).map((c) => c.stop()));
});

describe("decision-log upload to a real collector (block mode)", () => {
  it("collector down, then up: every decision arrives exactly once; refused statements are counted", async () => {
    const c = await Collector.down();
    collectors.push(c);
    const { pipeline, exporters } = start(settings({ decision_logs: { enabled: true, service_url: c.url, token: token("collector-token") } }));
    // The agent stalls on refusals once the buffer (20) is full; the collector comes back half a second later.
    const back = new Promise((r) => setTimeout(r, 500)).then(() => c.up());
    const { decided, refused } = await drive(pipeline, 100);
    await back;
    await exporters.close();
    const s = exporters.stats()["decision_logs"]!;
    expect(refused).toBeGreaterThan(0); // the buffer (20) filled while the collector was down
    expect(c.ids().sort()).toEqual(decided.map((d) => d.decision_id).sort());
    expect(new Set(c.ids()).size).toBe(c.ids().length);
    expect(s).toMatchObject({ received: 100, uploaded: 100, dropped: 0, refused, buffered: 0 });
    expect(c.requests.every((r) => r.path === "/logs" && r.authorization === "Bearer collector-token" && r.content_encoding === "gzip")).toBe(true);
    expect(c.events.filter((e) => e["result"]?.allow === false)).toHaveLength(20);
    expect(c.events[0]).toMatchObject({ path: "regate/decision", bundles: { regate: { revision: REVISION } }, labels: { app: "regate" } });
  }, 30_000);

  it("collector answering 500 then 200: nothing lost, nothing twice, failures counted", async () => {
    const c = await collector();
    c.reply = (n) => ({ status: n < 4 ? 500 : 200 });
    const { pipeline, exporters } = start(settings({ decision_logs: { enabled: true, service_url: c.url } }));
    const { decided, refused } = await drive(pipeline, 60);
    await exporters.close();
    const s = exporters.stats()["decision_logs"]!;
    expect(c.ids().sort()).toEqual(decided.map((d) => d.decision_id).sort());
    expect(new Set(c.ids()).size).toBe(60);
    expect(c.requests.filter((r) => r.status === 500)).toHaveLength(4);
    expect(s).toMatchObject({ received: 60, uploaded: 60, dropped: 0, refused, upload_failures: 4, buffered: 0 });
  }, 30_000);

  it("slow collector (300 ms per answer): decisions keep flowing, all arrive in order", async () => {
    const c = await collector();
    c.reply = () => ({ status: 200, delay_ms: 300 });
    const { pipeline, exporters } = start(settings({ decision_logs: { enabled: true, service_url: c.url, buffer_size_limit_events: 1000, upload_size_limit_bytes: 16384 } }));
    const { decided, refused } = await drive(pipeline, 200, (i) => (i % 20 === 0 ? new Promise((r) => setTimeout(r, 50)) : undefined));
    await exporters.close();
    expect(refused).toBe(0);
    expect(c.ids()).toEqual(decided.map((d) => d.decision_id));
    expect(c.requests.length).toBeGreaterThan(3);
    expect(exporters.stats()["decision_logs"]).toMatchObject({ received: 200, uploaded: 200, dropped: 0, buffered: 0 });
  }, 30_000);
});

describe("block mode and previews", () => {
  it("a preview (never logged) is not refused and not counted while the buffer is full", async () => {
    const c = await Collector.down();
    collectors.push(c);
    const { pipeline, exporters: ex } = start(settings({ decision_logs: { enabled: true, service_url: c.url, buffer_size_limit_events: 3 } }));
    for (let i = 0; i < 3; i++) expect(pipeline.decide(input(i)).error_code).toBeUndefined();
    expect(pipeline.decide(input(3)).error_code).toBe("DECISION_LOG_BACKPRESSURE");
    expect(pipeline.decide(input(4), { preview: true })).toMatchObject({ outcome: "deny", reasons: ["deletes are not allowed"] });
    expect(pipeline.decide(input(5), { preview: true })).toMatchObject({ outcome: "allow" });
    await ex.close(0);
    exporters = undefined;
    expect(ex.stats()["decision_logs"]).toMatchObject({ received: 3, refused: 1, buffered: 3 });
  });
});

describe("drop_oldest mode", () => {
  it("collector down: the oldest events are dropped and counted; counts reconcile", async () => {
    const c = await Collector.down();
    collectors.push(c);
    const { pipeline, exporters } = start(settings({ decision_logs: { enabled: true, service_url: c.url, buffer_policy: "drop_oldest" } }));
    const { decided, refused } = await drive(pipeline, 50);
    await c.up();
    await exporters.close();
    const s = exporters.stats()["decision_logs"]!;
    expect(refused).toBe(0);
    expect(s.dropped).toBe(30);
    expect(s.received).toBe(s.uploaded + s.dropped);
    expect(c.ids()).toEqual(decided.slice(30).map((d) => d.decision_id));
  }, 30_000);
});

describe("OCSF batch sinks", () => {
  beforeAll(setupValidator, 300_000);

  it("https: JSON arrays of OCSF events with a bearer token, valid OCSF 1.5.0", async () => {
    const c = await collector();
    const { pipeline, exporters } = start(settings({ ocsf: { enabled: true, sink: "https", endpoint: `${c.url}/ocsf`, token: token("siem-token") } }));
    const { decided } = await drive(pipeline, 30);
    await exporters.close();
    expect(c.ids()).toEqual(decided.map((d) => d.decision_id));
    expect(c.requests.every((r) => r.path === "/ocsf" && r.authorization === "Bearer siem-token")).toBe(true);
    expect(c.events[0]).toMatchObject({ class_uid: 6005, policy: { uid: REVISION }, actor: { user: { uid: "agent-1" } } });
    expect((await validateOcsf(c.events)).filter((v) => !v.ok)).toEqual([]);
  }, 60_000);

  it("splunk_hec: one HEC envelope per event, `Splunk <token>`, 500 then 200 retried", async () => {
    const c = await collector();
    c.reply = (n) => ({ status: n === 0 ? 500 : 200 });
    const { pipeline, exporters } = start(settings({ ocsf: { enabled: true, sink: "splunk_hec", endpoint: `${c.url}/services/collector/event`, token: token("hec-token"), splunk: { source: "regate", sourcetype: "ocsf:regate", index: "security" } } }));
    const { decided } = await drive(pipeline, 30);
    await exporters.close();
    expect(c.ids()).toEqual(decided.map((d) => d.decision_id));
    expect(c.requests.every((r) => r.authorization === "Splunk hec-token")).toBe(true);
    const first = c.events[0]!;
    expect(first).toMatchObject({ host: "regate", source: "regate", sourcetype: "ocsf:regate", index: "security", event: { class_uid: 6005 } });
    expect(first["time"]).toBe(first["event"].time / 1000);
    expect((await validateOcsf(c.events.map((e) => e["event"]))).filter((v) => !v.ok)).toEqual([]);
  }, 60_000);
});

describe("TLS to the collector", () => {
  let dir: string;
  const pem = (name: string, cn: string) => {
    const cert = join(dir, `${name}.crt`);
    const key = join(dir, `${name}.key`);
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", `/CN=${cn}`, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
    return { cert, key };
  };
  let server: { cert: string; key: string };
  let client: { cert: string; key: string };
  let stranger: { cert: string; key: string };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "regate-export-tls-"));
    server = pem("server", "127.0.0.1");
    client = pem("client", "regate-sidecar-7");
    stranger = pem("stranger", "someone-else");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const mtlsCollector = () =>
    Collector.start(0, { cert: readFileSync(server.cert), key: readFileSync(server.key), ca: readFileSync(client.cert), requestCert: true, rejectUnauthorized: true });

  it("mTLS: the collector sees regate's client certificate; everything arrives", async () => {
    const c = await mtlsCollector();
    collectors.push(c);
    const { pipeline, exporters } = start(settings({ decision_logs: { enabled: true, service_url: c.url, tls: { ca_file: server.cert, cert_file: client.cert, key_file: client.key } } }));
    const { decided } = await drive(pipeline, 25);
    await exporters.close();
    expect(c.ids()).toEqual(decided.map((d) => d.decision_id));
    expect(new Set(c.requests.map((r) => r.client_cn))).toEqual(new Set(["regate-sidecar-7"]));
  }, 30_000);

  it.each([
    ["a client certificate the collector does not trust", () => ({ ca_file: server.cert, cert_file: stranger.cert, key_file: stranger.key })],
    ["no client certificate", () => ({ ca_file: server.cert })],
    ["a collector certificate regate does not trust", () => ({ ca_file: stranger.cert, cert_file: client.cert, key_file: client.key })],
  ])("%s: nothing is accepted, failures are counted, events stay buffered", async (_name, tls) => {
    const c = await mtlsCollector();
    collectors.push(c);
    const { pipeline, exporters: ex } = start(settings({ decision_logs: { enabled: true, service_url: c.url, tls: tls(), buffer_policy: "drop_oldest" } }));
    await drive(pipeline, 5);
    await new Promise((r) => setTimeout(r, 300));
    await ex.close(0); // no point waiting for a collector that refuses us
    exporters = undefined;
    const s = ex.stats()["decision_logs"]!;
    expect(c.events).toHaveLength(0);
    expect(s.upload_failures).toBeGreaterThan(0);
    expect(s).toMatchObject({ uploaded: 0, buffered: 5 });
  }, 30_000);
});
