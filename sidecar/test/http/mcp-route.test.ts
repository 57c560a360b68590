// A route declared an MCP server (http.routes[].mcp): everything its upstream answers is judged and masked
// as MCP, not only the answers to messages regate read as MCP calls. A lenient server streams notifications
// on a GET with no session regate booked (or answers a message regate did not take for MCP); the example
// policy looks for personal data by its shape only in MCP answers, so that prose went out whole. Judged by
// the bytes the agent read, under the example policy.
import { createServer, type Server as HttpServer } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, closeServer, CUSTOMER, listen, startGateway, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

const PROSE = `customer ${CUSTOMER.email} ssn ${CUSTOMER.ssn} card ${CUSTOMER.card_number}`;

let upstream: HttpServer;
let gw: GatewayUnderTest;

beforeAll(async () => {
  // Whatever it is asked, a server log line in an event stream, as MCP's notifications/message carries it.
  upstream = createServer((req, res) => {
    req.resume();
    const note = { jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: PROSE } };
    res.writeHead(200, { "content-type": "text/event-stream" }).end(`event: message\ndata: ${JSON.stringify(note)}\n\n`);
  });
  const store = new PolicyStore(BUNDLE);
  await store.load();
  const url = await listen(upstream);
  gw = await startGateway({
    decider: new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [], logMask: true }),
    routes: [
      { name: "crm-mcp", prefix: "/crm", upstream: `${url}/mcp`, credential: { type: "bearer", value: UPSTREAM_SECRET }, mcp: true },
      { name: "events", prefix: "/events", upstream: `${url}/events`, credential: { type: "bearer", value: UPSTREAM_SECRET } },
    ],
  });
});

afterAll(async () => {
  await gw?.close();
  await closeServer(upstream);
});

const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${AGENT_TOKEN}`, ...headers } });
  return { status: res.status, text: await res.text() };
};

it.each([
  ["a GET stream with no session", "/crm", {}],
  ["a GET stream naming a session regate never booked", "/crm", { accept: "text/event-stream", "mcp-session-id": "not-booked" }],
  ["a GET of another path of the route", "/crm/anything?x=1", {}],
])("%s on an MCP route: the prose comes back masked", async (_name, path, headers) => {
  const { status, text } = await get(path, headers);
  expect(status).toBe(200);
  expect(text).toContain("notifications/message");
  for (const value of [CUSTOMER.email, CUSTOMER.ssn, CUSTOMER.card_number]) expect(text).not.toContain(value);
});

it("must stay as it was: a route not declared MCP gets field rules only, the prose as the upstream wrote it", async () => {
  const { status, text } = await get("/events");
  expect(status).toBe(200);
  expect(text).toContain(CUSTOMER.ssn);
});
