import { gunzipSync } from "node:zlib";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { OpaEventJson } from "../audit/index.js";
import { pgEvent } from "./test-events.js";
import { BatchUploader, type UploaderOptions } from "./upload.js";

interface Call {
  url: string;
  headers: Record<string, string>;
  events: { decision_id: string }[];
  bytes: number;
}

/** A fake fetch answering each call with the next status of `statuses` (the last one repeats). */
function fakeFetch(statuses: number[]) {
  const calls: Call[] = [];
  const fn = (async (url: string, init: RequestInit) => {
    const body = gunzipSync(init.body as Uint8Array).toString("utf8");
    calls.push({ url, headers: init.headers as Record<string, string>, events: JSON.parse(body), bytes: Buffer.byteLength(body) });
    return new Response(null, { status: statuses[Math.min(calls.length - 1, statuses.length - 1)] });
  }) as unknown as typeof fetch;
  return { fn, calls };
}

const events = new OpaEventJson({ bundle_name: "regate", labels: { app: "regate" } });

function uploader(over: Partial<UploaderOptions>, fetchFn: typeof fetch): BatchUploader {
  return new BatchUploader({
    url: "http://collector.test/logs",
    headers: { authorization: "Bearer t0ken" },
    serialize: (e) => events.json(e),
    frame: (items) => `[${items.join(",")}]`,
    min_delay_seconds: 3600,
    max_delay_seconds: 3600,
    upload_size_limit_bytes: 32768,
    buffer_size_limit_events: 1000,
    buffer_size_limit_bytes: 64 << 20,
    buffer_policy: "drop_oldest",
    timeout_ms: 1000,
    log: pino({ level: "silent" }),
    fetch: fetchFn,
    ...over,
  });
}

const ids = (calls: Call[]) => calls.flatMap((c) => c.events.map((e) => Number(e.decision_id.slice(-12))));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("BatchUploader (OPA decision-log protocol)", () => {
  it("POSTs a gzip'd JSON array of OPA events with the bearer token", async () => {
    const f = fakeFetch([200]);
    const up = uploader({}, f.fn);
    for (const i of range(3)) up.record(pgEvent("allow", "select", "SELECT 1", i));
    await up.flush();
    expect(f.calls).toHaveLength(1);
    expect(f.calls[0]!.url).toBe("http://collector.test/logs");
    expect(f.calls[0]!.headers).toMatchObject({ authorization: "Bearer t0ken", "content-encoding": "gzip", "content-type": "application/json" });
    expect(f.calls[0]!.events[0]).toMatchObject({ decision_id: "00000000-0000-4000-8000-000000000000", path: "regate/decision", bundles: { regate: { revision: "rev-42" } } });
    expect(up.stats).toMatchObject({ received: 3, uploaded: 3, dropped: 0, buffered: 0 });
    await up.close();
  });

  it("chunks by the upload size limit, in order, each chunk within the limit", async () => {
    const f = fakeFetch([200]);
    const up = uploader({ upload_size_limit_bytes: 4096 }, f.fn);
    for (const i of range(50)) up.record(pgEvent("allow", "select", "SELECT 1", i));
    await up.flush();
    expect(f.calls.length).toBeGreaterThan(5);
    expect(f.calls.every((c) => c.bytes <= 4096)).toBe(true);
    expect(ids(f.calls)).toEqual(range(50));
    await up.close();
  });

  it("an event larger than the limit goes alone instead of blocking the queue", async () => {
    const f = fakeFetch([200]);
    const up = uploader({ upload_size_limit_bytes: 1024 }, f.fn);
    up.record(pgEvent("allow", "select", "SELECT " + "x".repeat(5000), 0));
    up.record(pgEvent("allow", "select", "SELECT 1", 1));
    await up.flush();
    expect(f.calls.map((c) => c.events.length)).toEqual([1, 1]);
    await up.close();
  });

  it("retries after non-2xx answers and loses nothing", async () => {
    const f = fakeFetch([500, 503, 429, 200]);
    const up = uploader({ max_delay_seconds: 0.05, min_delay_seconds: 0.01 }, f.fn);
    for (const i of range(10)) up.record(pgEvent("allow", "select", "SELECT 1", i));
    await up.flush(5000);
    expect(f.calls).toHaveLength(4);
    expect(ids(f.calls.slice(3))).toEqual(range(10));
    expect(up.stats).toMatchObject({ uploaded: 10, upload_failures: 3, buffered: 0, last_error: "collector answered HTTP 429" });
    await up.close();
  });

  it.each([
    // [policy, limit, recorded, expected buffered, dropped, refused by admit]
    ["drop_oldest", 5, 8, [3, 4, 5, 6, 7], 3, false],
    ["block", 5, 5, [0, 1, 2, 3, 4], 0, true],
  ] as const)("buffer policy %s with the collector down", async (policy, limit, n, kept, dropped, refuses) => {
    const statuses = [500];
    const f = fakeFetch(statuses);
    const up = uploader({ buffer_policy: policy, buffer_size_limit_events: limit, min_delay_seconds: 0.01, max_delay_seconds: 0.02 }, f.fn);
    for (const i of range(n)) up.record(pgEvent("allow", "select", "SELECT 1", i));
    await up.flush(50); // the collector answers 500
    expect(up.stats.dropped).toBe(dropped);
    expect(up.admit()?.code).toBe(refuses ? "DECISION_LOG_BACKPRESSURE" : undefined);
    const failed = f.calls.length;
    statuses[0] = 200; // the collector is back
    await up.flush(5000);
    expect(ids(f.calls.slice(failed))).toEqual(kept);
    expect(up.stats.received).toBe(up.stats.uploaded + up.stats.dropped);
    await up.close();
  });

  it("the buffer is bounded by bytes as well as events: large events cannot hold memory while the collector is down", async () => {
    const statuses = [500];
    const f = fakeFetch(statuses);
    const big = (i: number) => pgEvent("allow", "select", "SELECT '" + "x".repeat(20_000) + "'", i);
    const size = Buffer.byteLength(events.json(big(0)));
    const opts = { buffer_size_limit_bytes: size * 3 + 10, min_delay_seconds: 0.01, max_delay_seconds: 0.02 };
    const drop = uploader(opts, f.fn);
    for (const i of range(10)) drop.record(big(i));
    await drop.flush(50);
    expect(drop.bufferedBytes).toBeLessThanOrEqual(opts.buffer_size_limit_bytes);
    expect(drop.stats).toMatchObject({ received: 10, buffered: 3, dropped: 7 });
    // block: refused once the bytes are reached, whatever the event count
    const block = uploader({ ...opts, buffer_policy: "block" }, f.fn);
    let refused = 0;
    for (const i of range(10)) {
      if (block.admit()) refused++;
      else block.record(big(i));
    }
    expect(block.admit()?.detail).toMatch(/bytes\) and the collector has not caught up/);
    expect(refused).toBe(6);
    statuses[0] = 200;
    await drop.flush(5000);
    expect(ids(f.calls).slice(-3)).toEqual([7, 8, 9]);
    expect(drop.bufferedBytes).toBe(0);
    // an event larger than the whole byte limit is never kept
    drop.record(pgEvent("allow", "select", "SELECT '" + "x".repeat(size * 4) + "'", 99));
    expect(drop.stats).toMatchObject({ buffered: 0, dropped: 8 });
    await drop.close();
    await block.close();
  });

  it("drop_oldest never drops an event already on its way", async () => {
    let release!: (r: Response) => void;
    const seen: number[][] = [];
    const fn = ((_url: string, init: RequestInit) => {
      seen.push((JSON.parse(gunzipSync(init.body as Uint8Array).toString()) as { decision_id: string }[]).map((e) => Number(e.decision_id.slice(-12))));
      return seen.length === 1 ? new Promise<Response>((r) => (release = r)) : Promise.resolve(new Response(null, { status: 200 }));
    }) as unknown as typeof fetch;
    const up = uploader({ buffer_size_limit_events: 4 }, fn);
    for (const i of range(2)) up.record(pgEvent("allow", "select", "SELECT 1", i));
    const first = up.flush();
    await new Promise((r) => setImmediate(r));
    for (const i of range(4)) up.record(pgEvent("allow", "select", "SELECT 1", 2 + i)); // 2 in flight + 4 new > 4
    release(new Response(null, { status: 200 }));
    await first;
    await up.flush();
    expect(seen[0]).toEqual([0, 1]);
    expect(seen.flat()).toEqual([0, 1, 4, 5]);
    expect(up.stats).toMatchObject({ received: 6, uploaded: 4, dropped: 2 });
    await up.close();
  });
});
