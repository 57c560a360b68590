// The request line logs the path an agent asked for: a secret regate holds (a route's credential, a basic
// credential's password, another agent's token) typed into it must be scrubbed there, as in the decision log.
// A real gateway in front of a lenient upstream; the log lines as the gateway's logger wrote them.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { allLogs, authed, rawRequest, startGateway, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";
import { startLenientUpstream, type LenientUpstream } from "./lenient-upstream.js";

const OTHER_AGENT = `other-agent-token-${UPSTREAM_SECRET.slice(-10)}`;
const BASIC_PASSWORD = `basic-pw-${UPSTREAM_SECRET.slice(-12)}`;
let upstream: LenientUpstream;
let g: GatewayUnderTest;

beforeAll(async () => {
  upstream = await startLenientUpstream();
  const store = new PolicyStore(BUNDLE);
  await store.load();
  g = await startGateway({
    routes: [
      { name: "api", prefix: "/api", upstream: upstream.url, credential: { type: "bearer", value: UPSTREAM_SECRET } },
      { name: "legacy", prefix: "/legacy", upstream: upstream.url, credential: { type: "basic", value: `svc:${BASIC_PASSWORD}` } },
    ],
    // The example policy, no decision-log sink: the lines under test are the gateway's own.
    decider: new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] }),
    log_secrets: [OTHER_AGENT],
  });
});

afterAll(async () => {
  await g?.close();
  await upstream?.close();
});

describe("secrets typed into a request path", () => {
  it("are scrubbed from the request line, authenticated or not, plain or base64", async () => {
    const b64 = Buffer.from(UPSTREAM_SECRET).toString("base64").replace(/=+$/, "");
    const paths = [`/api/echo/${UPSTREAM_SECRET}`, `/api/echo/${b64}`, `/legacy/x/${BASIC_PASSWORD}`, `/api/echo/${OTHER_AGENT}`];
    for (const path of paths) await rawRequest(`${g.url}${path}`, { headers: authed() });
    await rawRequest(`${g.url}/api/echo/${UPSTREAM_SECRET}`, { headers: { authorization: "Bearer nope" } });
    const requestLines = g.lines.filter((l) => l.includes('"msg":"http request"'));
    const logs = allLogs(g.lines);
    for (const secret of [UPSTREAM_SECRET, b64, BASIC_PASSWORD, OTHER_AGENT]) expect(logs).not.toContain(secret);
    // The requests were logged, with the secret's place marked.
    expect(requestLines.length).toBeGreaterThanOrEqual(5);
    expect(requestLines.filter((l) => l.includes("[REDACTED]")).length).toBeGreaterThanOrEqual(5);
  });
});
