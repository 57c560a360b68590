import { PassThrough } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../config/index.js";
import { createExporters } from "./index.js";
import { httpEvent, lifecycleEvents, pgEvent } from "./test-events.js";

describe("createExporters from config", () => {
  it("defaults: nothing is exported", () => {
    const cfg = loadConfig({ text: "agents: {tokens: []}", env: {} });
    expect(cfg.export.decision_logs).toMatchObject({ enabled: false, path: "/logs", buffer_policy: "drop_oldest", upload_size_limit_bytes: 32768 });
    expect(createExporters(cfg.export, { log: pino({ level: "silent" }), bundle_name: "regate", labels: {}, product_version: "t" }).sinks).toEqual([]);
  });

  it.each([
    ["upload without service_url", "export: {decision_logs: {enabled: true}}", "service_url"],
    ["https sink without endpoint", "export: {ocsf: {enabled: true, sink: https}}", "endpoint"],
    ["splunk sink without endpoint", "export: {ocsf: {enabled: true, sink: splunk_hec}}", "endpoint"],
    ["unknown buffer policy", "export: {decision_logs: {enabled: true, service_url: 'http://c', buffer_policy: wait}}", "buffer_policy"],
    ["collector URL that is not http(s)", "export: {decision_logs: {enabled: true, service_url: 'ftp://c'}}", "service_url"],
    ["a client certificate without its key", "export: {decision_logs: {enabled: true, service_url: 'https://c', tls: {cert_file: /c.pem}}}", "key_file"],
    ["a client key without its certificate", "export: {ocsf: {enabled: true, sink: https, endpoint: 'https://c', tls: {key_file: /k.pem}}}", "cert_file"],
  ])("config refuses %s", (_name, text, key) => {
    let problems: string[] = [];
    try {
      loadConfig({ text, env: {} });
    } catch (e) {
      problems = (e as ConfigError).problems ?? [String(e)];
    }
    expect(problems.join("\n")).toContain(key);
  });

  it("the OCSF file path resolves against the config file's directory", () => {
    expect(loadConfig({ text: "export: {ocsf: {enabled: true, sink: file, file: events/ocsf.jsonl}}", env: {}, baseDir: "/etc/regate" }).export.ocsf.file).toBe("/etc/regate/events/ocsf.jsonl");
  });

  it("stdout sink: one OCSF JSON line per decision, written together at the end of the tick", async () => {
    const cfg = loadConfig({ text: "export: {ocsf: {enabled: true}}", env: {} });
    const out = new PassThrough();
    let text = "";
    out.on("data", (d: Buffer) => (text += d.toString("utf8")));
    const ex = createExporters(cfg.export, { log: pino({ level: "silent" }), bundle_name: "regate", labels: {}, product_version: "t", stdout: out });
    for (const e of [pgEvent("allow", "select", "SELECT 1", 1), httpEvent("deny", "DELETE", "/x", 2)]) for (const s of ex.sinks) s.record(e);
    expect(text).toBe("");
    await new Promise((r) => setImmediate(r));
    const lines = text.trim().split("\n").map((l) => JSON.parse(l) as { class_uid: number; metadata: { uid: string } });
    expect(lines.map((l) => [l.class_uid, l.metadata.uid.slice(-1)])).toEqual([[6005, "1"], [6003, "2"]]);
    await ex.close();
  });
});

describe("lifecycle events", () => {
  it("go to the OCSF sink with the decisions, in order; nowhere when OCSF is off", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (d: Buffer) => (text += d.toString("utf8")));
    const on = createExporters(loadConfig({ text: "export: {ocsf: {enabled: true}}", env: {} }).export, { log: pino({ level: "silent" }), bundle_name: "regate", labels: {}, product_version: "t", stdout: out });
    const [held, approved] = [lifecycleEvents()[0]!, lifecycleEvents()[2]!];
    for (const s of on.sinks) s.record(pgEvent("approve", "update", "UPDATE payments SET amount = 0 WHERE id = 1", 0));
    on.lifecycle(held);
    on.lifecycle(approved);
    await new Promise((r) => setImmediate(r));
    const lines = text.trim().split("\n").map((l) => JSON.parse(l) as { activity_name: string; metadata: { uid: string; correlation_uid?: string } });
    expect(lines.map((l) => l.activity_name)).toEqual(["Update", "Approval requested", "Approval granted"]);
    expect(lines[1]!.metadata.correlation_uid).toBe(lines[0]!.metadata.uid);
    await on.close();
    const off = createExporters(loadConfig({ text: "agents: {tokens: []}", env: {} }).export, { log: pino({ level: "silent" }), bundle_name: "regate", labels: {}, product_version: "t" });
    expect(() => off.lifecycle(held)).not.toThrow();
  });
});
