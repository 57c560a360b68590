// Red team: MCP methods a hand-written server folds otherwise than regate. regate refuses a method that a
// server which trims and lower-cases runs as another (`Tools/Call `), but it folded the way JavaScript does
// (`trim()`, `toLowerCase()`), and servers fold in their own language: Python's str.strip() also drops
// \x1c-\x1f and \x85, str.casefold() reads the long s `ſ` as `s` (Go's strings.EqualFold does too), and a
// server that NFKC-normalises reads fullwidth `ｔｏｏｌｓ/call` as `tools/call`. Those spellings reached the
// policy as some unknown method without a tool, which the example policy lets through, and the server ran
// delete_customer. The upstream is a real Python server (mcp_lenient_python_upstream.py) on the standard
// library; each spelling is first sent to it directly to show what it runs, then through regate. Judged by
// the tools it ran and by the JSON-RPC answer the agent read.

import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { packageRoot } from "../../src/paths.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, startGateway, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

type Fold = "strip" | "casefold" | "nfkc";

let child: ChildProcess;
let direct: string;
let gw: GatewayUnderTest;

beforeAll(async () => {
  child = spawn("python3", [join(packageRoot, "sidecar", "test", "http", "mcp_lenient_python_upstream.py")], { stdio: ["pipe", "pipe", "inherit"] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`mcp_lenient_python_upstream.py exited ${code}`)));
  });
  direct = `http://127.0.0.1:${(JSON.parse(first) as { port: number }).port}`;
  const store = new PolicyStore(BUNDLE);
  await store.load();
  gw = await startGateway({
    decider: new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] }),
    routes: [{ name: "py-mcp", prefix: "/py", upstream: direct, credential: { type: "bearer", value: UPSTREAM_SECRET } }],
  });
});

afterAll(async () => {
  await gw?.close();
  child?.stdin?.end();
});

const ranSoFar = async (): Promise<string[]> => (await (await fetch(`${direct}/_ran`)).json()) as string[];

/** POSTs one message; returns the answer and the tools the server ran for it. */
async function send(url: string, msg: Record<string, unknown>): Promise<{ status: number; body: unknown; ran: string[] }> {
  const before = (await ranSoFar()).length;
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify(msg),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined, ran: (await ranSoFar()).slice(before) };
}

const deleteCall = (method: string) => ({ jsonrpc: "2.0", id: 7, method, params: { name: "delete_customer", arguments: { id: 1 } } });

describe("a tools/call spelled so that the server's fold, not JavaScript's, reads it: refused, never run", () => {
  it.each<[string, Fold, string]>([
    ["an information separator after it (Python's strip)", "strip", "tools/call\x1f"],
    ["a NEL before it (Python's strip)", "strip", "\x85tools/call"],
    ["a file separator and capitals (Python's strip, lower)", "strip", "\x1cTOOLS/CALL"],
    ["the long s (Python's casefold, Go's EqualFold)", "casefold", "toolſ/call"],
    ["fullwidth letters (NFKC)", "nfkc", "ｔｏｏｌｓ/call"],
    ["a fullwidth solidus (NFKC)", "nfkc", "tools／call"],
  ])("%s", async (_name, fold, method) => {
    // What the server does with it unguarded: runs delete_customer.
    expect((await send(`${direct}/${fold}`, deleteCall(method))).ran).toEqual(["delete_customer"]);
    const res = await send(`${gw.url}/py/${fold}`, deleteCall(method));
    expect(res.ran).toEqual([]);
    expect(res.body).toMatchObject({ jsonrpc: "2.0", id: 7, error: { code: -32001, message: expect.stringMatching(/a server that folds or trims it runs tools\/call|which a server may drop or stop at/) } });
  });

  // A server reading the method as a C string stops at the NUL and runs tools/call; no fold removes the tail.
  it("a NUL and a tail after it (a server reading C strings)", async () => {
    const res = await send(`${gw.url}/py/strip`, deleteCall("tools/call\u0000x"));
    expect(res.ran).toEqual([]);
    expect(res.body).toMatchObject({ jsonrpc: "2.0", id: 7, error: { code: -32001, message: expect.stringMatching(/which a server may drop or stop at/) } });
  });

  it("a notifications method folded the same way is refused too", async () => {
    const res = await send(`${gw.url}/py/strip`, { jsonrpc: "2.0", method: "notifications/initialized\x1e" });
    expect(res.status).toBe(400);
  });
});

describe("must allow", () => {
  it.each<Fold>(["strip", "casefold", "nfkc"])("MCP's own spelling through the %s server: listed and run; delete_customer refused by the policy", async (fold) => {
    const list = await send(`${gw.url}/py/${fold}`, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(list.body).toMatchObject({ id: 1, result: { tools: expect.arrayContaining([expect.objectContaining({ name: "run_report" })]) } });
    const run = await send(`${gw.url}/py/${fold}`, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "run_report", arguments: {} } });
    expect(run.body).toEqual({ jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "report ready" }] } });
    expect(run.ran).toEqual(["run_report"]);
    const del = await send(`${gw.url}/py/${fold}`, deleteCall("tools/call"));
    expect(del.body).toMatchObject({ id: 7, error: { message: expect.stringMatching(/MCP tool delete_customer is not allowed/) } });
    expect(del.ran).toEqual([]);
  });

  it("a JSON-RPC method outside MCP's namespaces, with odd characters, still passes as sent", async () => {
    const res = await send(`${gw.url}/py/strip`, { jsonrpc: "2.0", id: 3, method: "orders／list" });
    expect(res.body).toMatchObject({ id: 3, error: { code: -32601 } });
  });
});

// Tried in the same pass and found holding; pinned so that they stay so.
describe("held: what reaches the agent from this server", () => {
  const ask = (path: string, name: string) =>
    fetch(`${gw.url}/py/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name, arguments: {} } }),
    }).then((r) => r.text());

  it.each(["strip", "strip/sse"])("%s: the credential echoed in a result, and in an event's type and id, never comes back", async (path) => {
    const text = await ask(path, "echo_auth");
    expect(text).toContain("you sent");
    expect(text).not.toContain(UPSTREAM_SECRET);
  });

  it.each(["strip", "strip/sse"])("%s: a record in a JSON-RPC error's message and data is masked", async (path) => {
    const text = await ask(path, "lookup_fail");
    expect(text).toContain('"data"');
    expect(text).toContain("Alice Smith");
    for (const raw of ["alice@example.com", "123-45-6789", "4111 1111 1111 1111"]) expect(text).not.toContain(raw);
  });
});
