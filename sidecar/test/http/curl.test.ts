import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpInput } from "../../src/http/index.js";
import { AGENT_TOKEN, allLogs, CUSTOMER, startGateway, startUpstream, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest, type Upstream } from "./fixtures.js";

// Asynchronous on purpose: the gateway runs in this process, a synchronous child would block it.
const run = promisify(execFile);

/** Runs curl; returns the body and the status code (written last by -w). */
async function curl(args: string[]): Promise<{ status: number; body: string; stderr: string }> {
  const { stdout, stderr } = await run("curl", ["-sS", "--max-time", "10", "-w", "\n%{http_code}", ...args]);
  const cut = stdout.lastIndexOf("\n");
  return { body: stdout.slice(0, cut), status: Number(stdout.slice(cut + 1)), stderr };
}

let upstream: Upstream;
let gw: GatewayUnderTest;

beforeAll(async () => {
  upstream = await startUpstream();
  const decider = new TestRulesDecider((input) => {
    const h = input.http as HttpInput;
    if (h.method === "POST" && (h.parsed_body as { action?: string } | undefined)?.action === "refund") {
      return { outcome: "deny", reasons: ["refunds are not allowed for this agent"] };
    }
    if (h.path.startsWith("/customers/")) return { mask: [{ field: "email", strategy: "partial" }, { detector: "card", strategy: "partial" }] };
    return {};
  });
  gw = await startGateway({
    decider,
    routes: [
      { name: "crm", prefix: "/crm", upstream: `${upstream.url}/api`, credential: { type: "bearer", value: UPSTREAM_SECRET } },
      { name: "crm-host", prefix: "/", host: "crm.localhost", upstream: `${upstream.url}/api`, credential: { type: "basic", value: `svc:${UPSTREAM_SECRET}` } },
    ],
  });
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

describe("through curl", () => {
  it("an allowed GET reaches the upstream with regate's credential", async () => {
    const r = await curl(["-H", `Authorization: Bearer ${AGENT_TOKEN}`, `${gw.url}/crm/orders/1`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ method: "GET", url: "/api/orders/1" });
    expect(upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${UPSTREAM_SECRET}`);
    expect(r.body).not.toContain(UPSTREAM_SECRET);
  });

  it("a denied POST gets the JSON error", async () => {
    const r = await curl(["-H", `Authorization: Bearer ${AGENT_TOKEN}`, "-H", "Content-Type: application/json", "--data", '{"action":"refund","amount":10}', `${gw.url}/crm/payments`]);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ error: "denied", reason: expect.stringMatching(/^regate refused this request: refunds\ are\ not\ allowed\ for\ this\ agent \(decision [^)]+\)\. Next: .+\.$/) });
  });

  it("no token: 401", async () => {
    const r = await curl([`${gw.url}/crm/orders/1`]);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ error: "unauthorized" });
  });

  it("--compressed against a gzip upstream: masked, and not compressed by regate", async () => {
    const r = await curl(["--compressed", "-D", "-", "-H", `Authorization: Bearer ${AGENT_TOKEN}`, `${gw.url}/crm/customers/1.gz`]);
    expect(r.status).toBe(200);
    expect(r.body.toLowerCase()).not.toContain("content-encoding");
    const json = JSON.parse(r.body.slice(r.body.indexOf("{"))) as typeof CUSTOMER;
    expect(json.email).toBe("***@example.com");
    expect(json.card_number).toBe("**** **** **** 1111");
  });

  it("regate as an HTTP proxy (-x) with Proxy-Authorization, routed by host, basic credential injected", async () => {
    const r = await curl(["-x", gw.url, "--proxy-header", `Proxy-Authorization: Bearer ${AGENT_TOKEN}`, "http://crm.localhost/orders/2"]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ url: "/api/orders/2" });
    expect(upstream.requests.at(-1)!.headers.authorization).toBe(`Basic ${Buffer.from(`svc:${UPSTREAM_SECRET}`).toString("base64")}`);
  });

  it("an upload over the cap (curl sends Expect: 100-continue) gets 413; one under it goes through", async () => {
    const dir = await mkdtemp(join(tmpdir(), "regate-curl-"));
    try {
      const big = join(dir, "big.bin");
      const small = join(dir, "small.bin");
      await writeFile(big, Buffer.alloc(200_000, 0x78));
      await writeFile(small, Buffer.alloc(20_000, 0x78));
      const before = upstream.requests.length;
      const over = await curl(["-H", `Authorization: Bearer ${AGENT_TOKEN}`, "--data-binary", `@${big}`, `${gw.url}/crm/upload`]);
      expect(over.status).toBe(413);
      expect(JSON.parse(over.body)).toMatchObject({ code: "INPUT_TOO_LARGE" });
      const under = await curl(["-H", `Authorization: Bearer ${AGENT_TOKEN}`, "--data-binary", `@${small}`, `${gw.url}/crm/upload`]);
      expect(under.status).toBe(200);
      expect(upstream.requests.length).toBe(before + 1);
      expect(upstream.requests.at(-1)!.body.length).toBe(20_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("no secret in any log line", () => {
    expect(allLogs(gw.lines)).not.toContain(UPSTREAM_SECRET);
    expect(allLogs(gw.lines)).not.toContain(AGENT_TOKEN);
  });
});
