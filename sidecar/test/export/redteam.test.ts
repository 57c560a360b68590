// An agent that types a secret regate holds (another agent's token, the route's upstream credential, the
// collector's own token) into a request: the decision log on stdout replaces it; the SIEM export must too,
// the OCSF file and the decision-log upload alike. End to end, through the real gateway and pipeline.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import { BUNDLE } from "../support/regate.js";
import { lifecycleToOcsf, toOcsf } from "../../src/export/index.js";
import { httpEvent, lifecycleEvents, pgEvent } from "../../src/export/test-events.js";

const AGENT = "rt-export-agent-token-71c2";
const OTHER_AGENT = "rt-other-agent-token-4be9";
const ROUTE_SECRET = "rt-route-credential-0f3a";
const COLLECTOR_TOKEN = "rt-collector-token-8d21";
const HEC_TOKEN = "rt-hec-token-3a7c";
const SECRETS = [OTHER_AGENT, ROUTE_SECRET, COLLECTOR_TOKEN, HEC_TOKEN];

let upstream: Server;
let collector: Server;
const received: string[] = [];
let dir: string;

const listen = async (s: Server) => {
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "regate-export-rt-"));
  upstream = createServer((req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true })));
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      received.push(req.headers["content-encoding"] === "gzip" ? gunzipSync(body).toString("utf8") : body.toString("utf8"));
      res.writeHead(200).end("{}");
    });
  });
}, 60_000);

afterAll(async () => {
  for (const s of [upstream, collector]) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await rm(dir, { recursive: true, force: true });
});

describe("secrets an agent typed, in exported events", () => {
  it.each(["file", "splunk_hec"] as const)("OCSF (%s) and the decision-log upload carry none of the secrets regate holds", async (sink) => {
    received.length = 0;
    const upstreamUrl = upstream.listening ? `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` : await listen(upstream);
    const collectorUrl = collector.listening ? `http://127.0.0.1:${(collector.address() as AddressInfo).port}` : await listen(collector);
    const ocsfFile = join(dir, `ocsf-${sink}.jsonl`);
    const stdout: string[] = [];
    const config = loadConfig({
      text: stringify({
        policy: { bundle: BUNDLE, watch_interval_ms: 0 },
        agents: {
          tokens: [
            { subject: "rt-agent", groups: ["agents"], token: { value: AGENT } },
            { subject: "rt-other", groups: ["agents"], token: { value: OTHER_AGENT } },
          ],
        },
        postgres: { enabled: false },
        http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: upstreamUrl, credential: { type: "bearer", secret: { value: ROUTE_SECRET } } }] },
        admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 } },
        export: {
          decision_logs: { enabled: true, service_url: collectorUrl, token: { value: COLLECTOR_TOKEN }, min_delay_seconds: 0.05, max_delay_seconds: 0.1 },
          ocsf:
            sink === "file"
              ? { enabled: true, sink: "file", file: ocsfFile }
              : { enabled: true, sink: "splunk_hec", endpoint: `${collectorUrl}/services/collector/event`, token: { value: HEC_TOKEN }, min_delay_seconds: 0.05, max_delay_seconds: 0.1 },
        },
      }),
      env: {},
    });
    const log = createLogger({ level: "info", destination: new Writable({ write: (c: Buffer, _e, cb) => (stdout.push(c.toString("utf8")), cb()) }) });
    const app = await startApp({ config, log });
    const base = `http://127.0.0.1:${app.ports.http}/api`;
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const statuses: number[] = [];
    for (const path of [
      `/orders/1?token=${OTHER_AGENT}`,
      `/orders/${ROUTE_SECRET}`,
      `/orders/2?auth=${b64(COLLECTOR_TOKEN)}`,
      `/orders/3?hec=${HEC_TOKEN}`,
    ]) {
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${AGENT}` } });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    const post = await fetch(`${base}/orders`, { method: "DELETE", headers: { authorization: `Bearer ${AGENT}`, "content-type": "application/json" }, body: JSON.stringify({ note: `${OTHER_AGENT} ${ROUTE_SECRET}` }) });
    await post.arrayBuffer();
    await app.close();

    const ocsf = sink === "file" ? await readFile(ocsfFile, "utf8") : received.filter((r) => r.includes('"sourcetype"')).join("\n");
    const uploaded = received.filter((r) => r.startsWith("[")).join("\n");
    expect(ocsf).toMatch(/"class_uid":6003/);
    expect(uploaded).toMatch(/decision_id/);
    // Without a HEC sink regate does not hold the HEC token: to it that is a string like any other.
    const held = sink === "file" ? SECRETS.filter((s) => s !== HEC_TOKEN) : SECRETS;
    const leaks = (text: string) => held.flatMap((s) => [s, b64(s).replace(/=+$/, "")]).filter((s) => text.includes(s));
    expect({ ocsf: leaks(ocsf), upload: leaks(uploaded) }).toEqual({ ocsf: [], upload: [] });
    // The stdout decision log holds none either (the reference this export is held to).
    const leaked = stdout.join("").split("\n").filter((l) => l.includes('"msg":"Decision Log"') && leaks(l).length > 0);
    expect(leaked).toEqual([]);
    // Scrubbed events are still JSON the SIEM can read.
    for (const line of ocsf.split("\n").filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
    expect(() => JSON.parse(uploaded.split("\n")[0]!)).not.toThrow();
    expect(statuses.length).toBe(4);
  }, 60_000);
});

describe("passwords an agent set, in OCSF events", () => {
  const opts = { product_version: "t", bundle_name: "regate" };
  it.each([
    ["ddl", "ALTER ROLE app WITH PASSWORD 'Hunter2-ocsf-secret'"],
    ["ddl", "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password 'Hunter2-ocsf-secret')"],
    ["select", "SELECT dblink_connect('host=h password=Hunter2-ocsf-secret')"],
    ["select", "SELECT * FROM f('postgres://app:Hunter2-ocsf-secret@db/prod')"],
  ])("%s %s: query_info keeps the statement, not the password", (kind, sql) => {
    const ev = toOcsf(pgEvent("deny", kind, sql, 1), opts) as { query_info: { query_string: string } };
    expect(ev.query_info.query_string).not.toContain("Hunter2-ocsf-secret");
    expect(ev.query_info.query_string).toContain("****");
    const held = { ...lifecycleEvents()[0]!, subject: sql };
    expect(JSON.stringify(lifecycleToOcsf(held, opts))).not.toContain("Hunter2-ocsf-secret");
  });

  it("a statement without a credential is exported as the agent sent it", () => {
    const ev = toOcsf(pgEvent("allow", "select", "SELECT * FROM orders WHERE note = 'password reset'", 1), opts) as { query_info: { query_string: string } };
    // 'password' inside a literal still names a credential by the keyword test: literals go, the shape stays.
    expect(ev.query_info.query_string).toBe("SELECT * FROM orders WHERE note = '****'");
    const plain = toOcsf(pgEvent("allow", "select", "SELECT * FROM orders WHERE id = 'a1'", 2), opts) as { query_info: { query_string: string } };
    expect(plain.query_info.query_string).toBe("SELECT * FROM orders WHERE id = 'a1'");
  });
});

describe("an agent's Host header in OCSF events", () => {
  it.each([
    ["api.example:99999", { hostname: "api.example" }],
    ["api.example:65536", { hostname: "api.example" }],
    ["api.example:8443", { hostname: "api.example", port: 8443 }],
    ["[::1]:8080", { hostname: "[::1]", port: 8080 }],
  ])("%s: url.port only when it is a port (OCSF port_t, 0-65535)", (host, url) => {
    const e = httpEvent("allow", "GET");
    (e.input as { http: { host: string } }).http.host = host;
    const ev = toOcsf(e, { product_version: "t", bundle_name: "regate" }) as { http_request: { url: Record<string, unknown> } };
    expect({ hostname: ev.http_request.url["hostname"], port: ev.http_request.url["port"] }).toEqual({ port: undefined, ...url });
  });
});

describe("an agent's own credentials in a query string, in OCSF events", () => {
  it("the values of credential-named parameters are replaced, the rest kept", () => {
    const e = httpEvent("allow", "GET");
    (e.input as { http: { query: string } }).http.query = "page=2&access_token=rt-q-1&X-Amz-Signature=rt-q-2&api%5Fkey=rt-q-3&q=x";
    const ev = toOcsf(e, { product_version: "t", bundle_name: "regate" }) as { http_request: { url: { query_string: string } } };
    expect(ev.http_request.url.query_string).toBe("page=2&access_token=****&X-Amz-Signature=****&api%5Fkey=****&q=x");
  });
});
