// Review of the MCP method fold (mcp-methods.ts): a server that lower-cases one UTF-16 unit at a time with the
// simple case mapping (.NET's ToLowerInvariant, Java's Character.toLowerCase and equalsIgnoreCase) reads the dotted
// capital I `İ` as `i`. JavaScript's full mapping gives `i` and a combining dot, which regate's fold kept, so
// `resources/subscrİbe` or `İnitialize` reached the policy as an unknown method (no uri given to it) while such a
// server ran resources/subscribe or initialize. A server reading C strings runs initialize for `initialize\u0000x`,
// whose fold (`initializex`) names no method. The upstream is a real HTTP server that folds so; judged by what it
// ran and by the JSON-RPC answer the agent read.

import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, closeServer, listen, startGateway, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

/** One UTF-16 unit at a time, to one unit: the simple mapping (`İ` is `i`), as .NET and Java fold a char. */
const simpleLower = (s: string): string =>
  [...s]
    .map((c) => {
      const full = c.toLowerCase();
      return full.length === 1 ? full : c.normalize("NFD")[0]!.toLowerCase();
    })
    .join("");

const KNOWN = new Set(["initialize", "resources/subscribe", "tools/list"]);

let server: Server;
let direct: string;
let ran: string[] = [];
let gw: GatewayUnderTest;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString("utf8")));
    req.on("end", () => {
      const msg = JSON.parse(body) as { id?: number; method: string };
      // Read as a C string reads it too: up to a NUL.
      const method = simpleLower(msg.method.split("\u0000")[0]!);
      res.setHeader("content-type", "application/json");
      if (!KNOWN.has(method)) return res.end(JSON.stringify({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "no such method" } }));
      ran.push(method);
      res.end(JSON.stringify({ jsonrpc: "2.0", id: msg.id, result: {} }));
    });
  });
  direct = await listen(server);
  const store = new PolicyStore(BUNDLE);
  await store.load();
  gw = await startGateway({
    decider: new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] }),
    routes: [{ name: "simple-fold", prefix: "/s", upstream: direct, credential: { type: "bearer", value: UPSTREAM_SECRET } }],
  });
});

afterAll(async () => {
  await gw?.close();
  if (server) await closeServer(server);
});

async function send(url: string, msg: Record<string, unknown>): Promise<{ body: unknown; ran: string[] }> {
  ran = [];
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify(msg),
  });
  const text = await res.text();
  return { body: text ? (JSON.parse(text) as unknown) : undefined, ran };
}

describe("a method with the dotted capital I, which a simple-mapping server reads as i: refused, never run", () => {
  it.each<[string, string, Record<string, unknown>]>([
    ["resources/subscrİbe", "resources/subscribe", { uri: "file:///etc/shadow" }],
    ["İnitialize", "initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } }],
  ])("%s", async (method, runs, params) => {
    // What the server does with it unguarded.
    expect((await send(direct, { jsonrpc: "2.0", id: 4, method, params })).ran).toEqual([runs]);
    const res = await send(`${gw.url}/s`, { jsonrpc: "2.0", id: 4, method, params });
    expect(res.ran).toEqual([]);
    expect(res.body).toMatchObject({ jsonrpc: "2.0", id: 4, error: { code: -32001, message: expect.stringMatching(/a server that folds or trims it runs/) } });
  });

  // Cut at the NUL it is initialize; folded whole (`initializex`) it names no MCP method.
  it("initialize, a NUL and a tail (a server reading C strings)", async () => {
    const params = { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } };
    expect((await send(direct, { jsonrpc: "2.0", id: 6, method: "initialize\u0000x", params })).ran).toEqual(["initialize"]);
    const res = await send(`${gw.url}/s`, { jsonrpc: "2.0", id: 6, method: "initialize\u0000x", params });
    expect(res.ran).toEqual([]);
    expect(res.body).toMatchObject({ jsonrpc: "2.0", id: 6, error: { code: -32001, message: expect.stringMatching(/which a server may drop or stop at/) } });
  });

  it("must allow: a method outside MCP's namespaces with a NUL in it still passes as sent", async () => {
    const res = await send(`${gw.url}/s`, { jsonrpc: "2.0", id: 8, method: "orders/list\u0000x" });
    expect(res.body).toMatchObject({ id: 8, error: { code: -32601 } });
  });

  it("must allow: an API's own method that starts with an MCP method's name and a space passes as sent", async () => {
    const res = await send(`${gw.url}/s`, { jsonrpc: "2.0", id: 9, method: "ping me" });
    expect(res.body).toMatchObject({ id: 9, error: { code: -32601 } });
  });

  it("must allow: MCP's own spelling runs", async () => {
    const res = await send(`${gw.url}/s`, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(res.ran).toEqual(["tools/list"]);
    expect(res.body).toEqual({ jsonrpc: "2.0", id: 1, result: {} });
  });
});
