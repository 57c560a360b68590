// A collector that takes bodies up to a size and answers 413 above it (nginx's client_max_body_size, Splunk
// HEC's max_content_length). One agent's huge statement must not stop the export of everyone's decisions, nor,
// in block mode, every agent's statements.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import { BatchUploader, createExporters } from "../../src/export/index.js";
import { pgEvent } from "../../src/export/test-events.js";
import { loadConfig } from "../../src/config/index.js";

const LIMIT = 3000;
let server: Server;
let url: string;
const accepted: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = gunzipSync(Buffer.concat(chunks)).toString("utf8");
      if (text.length > LIMIT) return res.writeHead(413).end();
      accepted.push(...(JSON.parse(text) as { n: number }[]).map((e) => String(e.n)));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/logs`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function uploader(limitBytes: number): BatchUploader {
  return new BatchUploader({
    url,
    headers: {},
    serialize: () => "",
    frame: (items) => `[${items.join(",")}]`,
    min_delay_seconds: 0.02,
    max_delay_seconds: 0.05,
    upload_size_limit_bytes: limitBytes,
    buffer_size_limit_events: 50,
    buffer_size_limit_bytes: 64 << 20,
    buffer_policy: "block",
    timeout_ms: 2000,
    log: pino({ level: "silent" }),
  });
}

const event = (n: number, pad = 0) => JSON.stringify({ n, pad: "x".repeat(pad) });
const until = async (ok: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !ok() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
};

describe("a collector answering 413", () => {
  it("an event larger than upload_size_limit_bytes is dropped (counted), the events after it are uploaded, decisions go on", async () => {
    accepted.length = 0;
    const up = uploader(2048);
    up.enqueue(event(0, 100_000));
    let refused = 0;
    for (let n = 1; n <= 120; n++) {
      if (up.admit()) refused++;
      else up.enqueue(event(n));
      await new Promise((r) => setTimeout(r, 2));
    }
    await until(() => up.buffered === 0);
    await up.close(1000);
    expect(up.stats).toMatchObject({ dropped: 1, buffered: 0 });
    expect(accepted).not.toContain("0");
    expect(accepted.length + refused).toBe(120);
    expect(accepted.length).toBeGreaterThan(60);
  });

  it("a batch too large for the collector is split until it fits: nothing is lost", async () => {
    accepted.length = 0;
    const up = uploader(32768);
    for (let n = 1; n <= 49; n++) up.enqueue(event(n, 200));
    await until(() => up.buffered === 0);
    await up.close(1000);
    expect(up.stats).toMatchObject({ dropped: 0, buffered: 0, uploaded: 49 });
    expect(accepted.map(Number)).toEqual(Array.from({ length: 49 }, (_, i) => i + 1));
  });

  it("a single event within upload_size_limit_bytes that the collector refuses is kept and retried (misconfiguration, not a drop)", async () => {
    accepted.length = 0;
    const up = uploader(1_000_000);
    up.enqueue(event(1, 5000));
    await new Promise((r) => setTimeout(r, 400));
    expect(up.stats).toMatchObject({ dropped: 0, buffered: 1 });
    expect(up.stats.upload_failures).toBeGreaterThan(0);
    await up.close(100);
  });
});

describe("OCSF lines to a stdout nobody reads, or to a file that cannot be written", () => {
  /** A stdout whose reader is stuck: nothing it is given is ever written. */
  const stuck = () => new Writable({ highWaterMark: 1024, write: () => undefined });
  const exporters = (text: string, stdout?: Writable) =>
    createExporters(loadConfig({ text, env: {} }).export, { log: pino({ level: "silent" }), bundle_name: "regate", labels: {}, product_version: "t", ...(stdout ? { stdout } : {}) });
  const tick = () => new Promise((r) => setImmediate(r));

  it("drop_oldest: at most buffer_size_limit_events lines wait; the rest are counted as dropped, not kept", async () => {
    const ex = exporters("export: {ocsf: {enabled: true, buffer_size_limit_events: 20}}", stuck());
    for (let i = 0; i < 500; i++) {
      for (const s of ex.sinks) s.record(pgEvent("allow", "select", "SELECT 1", i));
      if (i % 10 === 0) await tick();
    }
    await tick();
    expect(ex.stats()["ocsf"]).toMatchObject({ received: 500, buffered: 20, dropped: 480 });
  });

  it("drop_oldest: large lines are bounded by buffer_size_limit_bytes however few they are", async () => {
    const ex = exporters("export: {ocsf: {enabled: true, buffer_size_limit_bytes: 100000}}", stuck());
    for (let i = 0; i < 50; i++) {
      for (const s of ex.sinks) s.record(pgEvent("allow", "select", "SELECT '" + "x".repeat(9000) + "'", i));
      await tick();
    }
    const stats = ex.stats()["ocsf"]!;
    expect(stats.buffered).toBeGreaterThan(0);
    expect(stats.buffered).toBeLessThanOrEqual(11);
    expect(stats.received).toBe(50);
    expect(stats.dropped).toBe(50 - stats.buffered);
  });

  it("block: once the limit is reached new decisions are refused (fail closed), counted", async () => {
    const ex = exporters("export: {ocsf: {enabled: true, buffer_size_limit_events: 20, buffer_policy: block}}", stuck());
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      const err = ex.sinks.map((s) => s.admit?.()).find(Boolean);
      if (err) {
        refused++;
        expect(err.code).toBe("DECISION_LOG_BACKPRESSURE");
      } else for (const s of ex.sinks) s.record(pgEvent("allow", "select", "SELECT 1", i));
      await tick();
    }
    expect(refused).toBe(80);
    expect(ex.stats()["ocsf"]).toMatchObject({ buffered: 20, refused: 80, dropped: 0 });
  });

  it("a file that cannot be written: the failure shows in the stats, lines are counted as dropped (or, in block mode, statements refused)", async () => {
    const missing = `/nonexistent-dir-${Date.now()}/ocsf.jsonl`;
    const drop = exporters(`export: {ocsf: {enabled: true, sink: file, file: ${missing}}}`);
    const block = exporters(`export: {ocsf: {enabled: true, sink: file, file: ${missing}, buffer_policy: block}}`);
    for (const ex of [drop, block]) for (const s of ex.sinks) s.record(pgEvent("allow", "select", "SELECT 1", 1));
    await until(() => drop.stats()["ocsf"]?.upload_failures === 1 && block.stats()["ocsf"]?.upload_failures === 1);
    for (const s of drop.sinks) s.record(pgEvent("allow", "select", "SELECT 1", 2));
    expect(drop.stats()["ocsf"]).toMatchObject({ dropped: 2, last_error: expect.stringMatching(/ENOENT/) });
    expect(block.sinks.map((s) => s.admit?.()).find(Boolean)?.code).toBe("DECISION_LOG_BACKPRESSURE");
  });
});
