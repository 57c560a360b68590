// A credential can sit inside a URL given as a plain config string: a route upstream's userinfo (sent as the
// route's basic credential), a bundle server's userinfo (node:http sends it) or signed query, a collector
// endpoint's ?token= (Splunk HEC takes one). Such a URL must not come back whole from `regate check-config`,
// nor from the error a start that cannot parse it fails with (Node's ERR_INVALID_URL carries the URL in `input`
// and `base`, and pino writes every own property of an error it serialises); and a password taken from one
// is a secret regate holds, scrubbed from the request lines and the decision log like any configured one.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pg from "pg";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import { packageRoot } from "../../src/paths.js";
import { startUpstream, type Upstream } from "../http/fixtures.js";
import { regateArgv } from "../support/compiled-regate.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, BUNDLE, startRegate, type TestRegate } from "../support/regate.js";

const ROUTE_PASSWORD = "RoutePass-7c1e";
const BUNDLE_PASSWORD = "BundlePass-2b9d";
const BUNDLE_SIGNATURE = "BundleSig-55af";
const HEC_QUERY_TOKEN = "HecQueryToken-9e04";
const COLLECTOR_QUERY_TOKEN = "CollectorQuery-31d7";

function regate(config: Record<string, unknown>, ...args: string[]): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), "regate-secrets-in-errors-"));
  const file = join(dir, "regate.yaml");
  writeFileSync(file, stringify(config));
  const r = spawnSync(process.execPath, regateArgv(...args, "--config", file), { cwd: packageRoot, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

const base = {
  agents: { tokens: [{ subject: "a1", token: { value: "tok-0123456789abcdef" } }] },
  postgres: { listen: { host: "127.0.0.1", port: 0 }, upstream: { password: { value: "pw-not-used" } } },
  admin: { enabled: false },
  policy: { bundle: BUNDLE, watch_interval_ms: 0 },
};

describe("regate check-config", () => {
  it("shows URLs without their userinfo password or query values, and still names their hosts", () => {
    const { status, out } = regate(
      {
        ...base,
        policy: { bundle: BUNDLE, service: { url: `https://bundles:${BUNDLE_PASSWORD}@bundles.example/v1?sig=${BUNDLE_SIGNATURE}` } },
        http: { listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", upstream: `https://svc:${ROUTE_PASSWORD}@api.example/v1` }] },
        export: {
          decision_logs: { enabled: true, service_url: `https://collector.example/?token=${COLLECTOR_QUERY_TOKEN}` },
          ocsf: { enabled: true, sink: "splunk_hec", endpoint: `https://splunk.example:8088/services/collector/event?token=${HEC_QUERY_TOKEN}` },
        },
      },
      "check-config",
    );
    // The route's userinfo became its credential (a Secret), the bundle server's stays in its URL, redacted.
    expect(JSON.parse(out.trim()).http.routes[0]).toMatchObject({ upstream: "https://api.example/v1", credential: { type: "basic", secret: "[secret from http.routes.0.upstream userinfo]" } });
    expect(out).toContain("https://[REDACTED]@bundles.example/v1?sig=[REDACTED]");
    expect(out).toContain("https://splunk.example:8088/services/collector/event?token=[REDACTED]");
    for (const secret of [ROUTE_PASSWORD, BUNDLE_PASSWORD, BUNDLE_SIGNATURE, HEC_QUERY_TOKEN, COLLECTOR_QUERY_TOKEN]) expect(out).not.toContain(secret);
    expect(status).toBe(0);
  }, 60_000);
});

describe("a URL that does not parse", () => {
  // A space in the port: the schema's ^https?:// admits it, the URL parser does not.
  const config = { ...base, export: { ocsf: { enabled: true, sink: "splunk_hec", endpoint: `https://splunk.example:80 88/services/collector?token=${HEC_QUERY_TOKEN}`, token: { value: "hec-header-token" } } } };

  it.each(["check-config", "run"])("is refused by `regate %s` naming its key, without quoting it", (command) => {
    const { status, out } = regate(config, command);
    expect(out).toContain("export.ocsf.endpoint: not a URL");
    expect(out).not.toContain(HEC_QUERY_TOKEN);
    expect(status).toBe(1);
  }, 60_000);

  it("thrown anyway, is logged without Node's input and base (the whole URL)", () => {
    const lines: string[] = [];
    const log = createLogger({ destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString("utf8")), cb()) }) });
    let err: unknown;
    try {
      new URL(`https://splunk.example:80 88/?token=${HEC_QUERY_TOKEN}`, `https://u:${ROUTE_PASSWORD}@base.example/`);
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe("ERR_INVALID_URL");
    log.child({ component: "x" }).fatal({ err }, "regate could not start");
    const line = JSON.parse(lines.join("")) as { err: Record<string, unknown> };
    expect(line.err).toMatchObject({ type: "TypeError", code: "ERR_INVALID_URL", message: "Invalid URL" });
    expect(lines.join("")).not.toContain(HEC_QUERY_TOKEN);
    expect(lines.join("")).not.toContain(ROUTE_PASSWORD);
  });
});

// Config load makes an upstream's userinfo the route's basic credential: sent upstream, scrubbed from responses; the
// request lines and the decision log knew only configured credentials, and only a basic one whole (user:pass),
// so a password the agent typed into a path was logged as it was.
describe("a route's basic credential typed into a request path", () => {
  const USERINFO_PASSWORD = "UserinfoPass-4f0a";
  const BASIC_PASSWORD = "BasicPass-c83e";
  let db: TestPostgres;
  let upstream: Upstream;
  let regate: TestRegate;

  beforeAll(async () => {
    [db, upstream] = await Promise.all([startPostgres(), startUpstream()]);
    const host = new URL(upstream.url).host;
    // A port nothing listens on: the upstream is down.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const downPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    regate = await startRegate(db, {
      http: {
        enabled: true,
        listen: { host: "127.0.0.1", port: 0 },
        routes: [
          { name: "userinfo", prefix: "/userinfo", upstream: `http://svc:${USERINFO_PASSWORD}@${host}/api` },
          { name: "basic", prefix: "/basic", upstream: `http://${host}/api`, credential: { type: "basic", secret: { value: `svc:${BASIC_PASSWORD}` } } },
          { name: "down", prefix: "/down", upstream: `http://svc:${USERINFO_PASSWORD}@127.0.0.1:${downPort}/api` },
        ],
      },
    });
  }, 120_000);
  afterAll(async () => {
    await regate?.stop();
    await upstream?.close();
    await db?.stop();
  });

  it.each([
    ["userinfo", USERINFO_PASSWORD],
    ["basic", BASIC_PASSWORD],
  ])("is sent upstream (route %s) but logged nowhere", async (route, password) => {
    const before = upstream.requests.length;
    const res = await fetch(`http://127.0.0.1:${regate.app.ports.http!}/${route}/orders/${password}?q=${password}`, { headers: { authorization: `Bearer ${AGENT.token}` } });
    const body = await res.text();
    expect(res.status).toBe(200);
    expect(body).not.toContain(password);
    expect(upstream.requests.slice(before).map((r) => r.headers.authorization)).toEqual([`Basic ${Buffer.from(`svc:${password}`).toString("base64")}`]);
    let logs = "";
    for (let i = 0; i < 50 && !/"msg":"http request"/.test(logs); i++) {
      await new Promise((r) => setTimeout(r, 20));
      logs = regate.logs().split("\n").filter((l) => l.includes(`"route":"${route}"`) || l.includes("Decision Log")).join("\n");
    }
    expect(logs).toContain('"msg":"http request"');
    expect(regate.logs()).not.toContain(password);
  });

  it("an upstream that is down: neither the 502 nor the log line names the userinfo", async () => {
    const res = await fetch(`http://127.0.0.1:${regate.app.ports.http!}/down/orders/1`, { headers: { authorization: `Bearer ${AGENT.token}` } });
    const body = await res.text();
    expect(res.status).toBe(502);
    expect(JSON.parse(body)).toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
    let logs = "";
    for (let i = 0; i < 50 && !logs.includes("upstream request failed"); i++) {
      await new Promise((r) => setTimeout(r, 20));
      logs = regate.logs();
    }
    expect(logs).toContain("upstream request failed");
    expect(body + logs).not.toContain(USERINFO_PASSWORD);
  });
});

// node:http sends a bundle server URL's userinfo as a basic credential; the log scrubbers knew only the token.
describe("the bundle server's userinfo password typed into a statement", () => {
  const PASSWORD = "BundleUserinfo-6d2a";
  let db: TestPostgres;
  let server: Server;
  let regate: TestRegate;
  const auths: (string | undefined)[] = [];

  beforeAll(async () => {
    const bundle = readFileSync(BUNDLE);
    server = createServer((req, res) => {
      auths.push(req.headers.authorization);
      res.writeHead(200, { "content-type": "application/gzip" }).end(bundle);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    db = await startPostgres();
    const url = `http://bundles:${PASSWORD}@127.0.0.1:${(server.address() as AddressInfo).port}`;
    regate = await startRegate(db, { policy: { service: { url, resource: "b.tar.gz", persist: false, min_delay_seconds: 600, max_delay_seconds: 600 } } });
  }, 120_000);
  afterAll(async () => {
    await regate?.stop();
    await db?.stop();
    await new Promise((r) => server?.close(r));
  });

  it("is sent to the bundle server but logged nowhere", async () => {
    expect(auths[0]).toBe(`Basic ${Buffer.from(`bundles:${PASSWORD}`).toString("base64")}`);
    const c = new pg.Client({ connectionString: regate.url() });
    await c.connect();
    try {
      expect((await c.query(`SELECT '${PASSWORD}' AS v`)).rows).toEqual([{ v: PASSWORD }]);
    } finally {
      await c.end();
    }
    let logs = "";
    for (let i = 0; i < 50 && !logs.includes("Decision Log"); i++) {
      await new Promise((r) => setTimeout(r, 20));
      logs = regate.logs();
    }
    expect(regate.decisions().length).toBeGreaterThan(0);
    expect(regate.logs()).not.toContain(PASSWORD);
  });
});
