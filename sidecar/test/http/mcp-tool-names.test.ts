// MCP tool names through regate and the example policy, against a server whose tool lookup is lenient: it
// normalises a name (NFKC, trimmed, camelCase to snake_case, lower case, `-` as `_`) before looking it up,
// as hand-written servers and some frameworks do. Judged by what that server ran.

import { createServer, type Server as HttpServer } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { authed, closeServer, listen, rawRequest, startGateway, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

const lenientKey = (name: string): string =>
  name
    .normalize("NFKC")
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/-/g, "_");

let upstream: { url: string; http: HttpServer; ran: string[] };
let gw: GatewayUnderTest;

/** A stateless JSON-RPC MCP server with two tools, looked up by lenientKey; records each tool it ran. */
async function startLenientServer(): Promise<typeof upstream> {
  const ran: string[] = [];
  const tools = new Set(["get_customer", "delete_customer"]);
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rpc = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: number; method: string; params: { name: string } };
      const key = lenientKey(rpc.params.name);
      const known = rpc.method === "tools/call" && tools.has(key);
      if (known) ran.push(key);
      const answer = known ? { result: { content: [{ type: "text", text: `ran ${key}` }] } } : { error: { code: -32602, message: "unknown tool" } };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: rpc.id, ...answer }));
    });
  });
  return { url: await listen(http), http, ran };
}

const call = (name: string) => JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name, arguments: { id: 1 } } });

async function viaRegate(name: string): Promise<{ status: number; rpc: { result?: unknown; error?: { message: string } } }> {
  const res = await rawRequest(`${gw.url}/crm/mcp`, {
    method: "POST",
    headers: authed({ "content-type": "application/json", accept: "application/json, text/event-stream" }),
    body: call(name),
  });
  return { status: res.status, rpc: JSON.parse(res.body.toString("utf8")) as { result?: unknown; error?: { message: string } } };
}

beforeAll(async () => {
  upstream = await startLenientServer();
  const store = new PolicyStore(BUNDLE);
  await store.load();
  const decider = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [], logMask: true });
  gw = await startGateway({ decider, routes: [{ name: "crm", prefix: "/crm", upstream: upstream.url, credential: { type: "bearer", value: UPSTREAM_SECRET } }] });
});

afterAll(async () => {
  await gw?.close();
  if (upstream) await closeServer(upstream.http);
});

beforeEach(() => {
  upstream.ran.length = 0;
});

describe("a spelling of a denied tool that the server runs as that tool", () => {
  const SPELLINGS: [string, string][] = [
    ["Delete_customer", "is not allowed"],
    ["DELETE_CUSTOMER", "is not allowed"],
    ["delete-customer", "is not allowed"],
    ["deleteCustomer", "is not allowed"],
    [" delete_customer", "is not a plain name"],
    ["delete_customer\t", "is not a plain name"],
    ["ｄｅｌｅｔｅ_customer", "is not a plain name"],
    ["ｄｅｌｅｔｅ＿ｃｕｓｔｏｍｅｒ", "is not a plain name"],
  ];

  it.each(SPELLINGS)("%j: the server would run delete_customer for it", async (name) => {
    const direct = await fetch(upstream.url, { method: "POST", headers: { "content-type": "application/json" }, body: call(name) });
    expect(((await direct.json()) as { result?: unknown }).result).toBeDefined();
    expect(upstream.ran).toEqual(["delete_customer"]);
  });

  it.each(SPELLINGS)("%j: refused by regate, never run", async (name, reason) => {
    const { rpc } = await viaRegate(name);
    expect(rpc.result).toBeUndefined();
    expect(rpc.error?.message).toContain(reason);
    expect(upstream.ran).toEqual([]);
  });
});

describe("plain names of other tools", () => {
  it.each([["get_customer"], ["getCustomer"], ["Get-Customer"]])("%j runs", async (name) => {
    const { status, rpc } = await viaRegate(name);
    expect(status).toBe(200);
    expect(rpc.error).toBeUndefined();
    expect(upstream.ran).toEqual(["get_customer"]);
  });
});
