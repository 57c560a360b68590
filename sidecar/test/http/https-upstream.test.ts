// An https upstream verified with the route's CA, through the node:http(s) client regate forwards with.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authed, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

let dir: string;
let server: Server;
let port: number;
const gateways: GatewayUnderTest[] = [];

function selfSigned(name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
  return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
}

let trusted: string;
let other: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "regate-https-up-"));
  const tls = selfSigned("server");
  trusted = tls.cert;
  other = selfSigned("other").cert;
  server = createServer(tls, (req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ path: req.url, host: req.headers.host, auth: req.headers.authorization }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const g of gateways) await g.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function gatewayWithCa(ca: string): Promise<GatewayUnderTest> {
  const g = await startGateway({
    routes: [{ name: "tls", prefix: "/", upstream: `https://127.0.0.1:${port}/base`, ca, credential: { type: "bearer", value: UPSTREAM_SECRET } }],
    decider: new TestRulesDecider(() => ({})),
  });
  gateways.push(g);
  return g;
}

describe("https upstream", () => {
  it("verifies the upstream with the route's CA, sends its own Host, and scrubs the echoed credential", async () => {
    const g = await gatewayWithCa(trusted);
    const res = await fetch(`${g.url}/x/./y`, { headers: authed() });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { path: string; host: string; auth: string };
    expect(body.path).toBe("/base/x/y");
    expect(body.host).toBe(`127.0.0.1:${port}`);
    expect(body.auth).toBe(`Bearer ${"*".repeat(UPSTREAM_SECRET.length)}`);
  });

  it("refuses an upstream whose certificate the route's CA did not sign", async () => {
    const g = await gatewayWithCa(other);
    const res = await fetch(`${g.url}/x`, { headers: authed() });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
  });
});
