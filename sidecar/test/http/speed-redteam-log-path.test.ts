// Red team of the HTTP speed pass (0425a8c, 04ad9e2): the request line's path, now masked once per distinct
// path (short-memo.ts) and scrubbed of held secrets in its batch. The canonical path keeps the escapes of
// every character that is not unreserved, so a secret or an email typed with them ("p%40ss%3Aw0rd",
// "alice%40example.com") reached the log as typed: neither the detectors nor the scrubber read escapes.
// A real gateway in front of a lenient upstream; the request lines as the gateway's logger wrote them.

import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { authed, rawRequest, startGateway, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";
import { startLenientUpstream, type LenientUpstream } from "./lenient-upstream.js";

// Secrets with characters a path may carry raw or escaped (sub-delimiters, ":" and "@"); each ends in a
// random tail that no masked spelling keeps.
const TAIL_PW = randomBytes(6).toString("hex");
const TAIL_TOKEN = randomBytes(6).toString("hex");
const BASIC_PASSWORD = `p@ss:w0rd!${TAIL_PW}`;
const OTHER_AGENT = `tok+en=${TAIL_TOKEN}`;
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
    decider: new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] }),
    log_secrets: [OTHER_AGENT],
  });
});

afterAll(async () => {
  await g?.close();
  await upstream?.close();
});

const requestLines = (): string[] => g.lines.filter((l) => l.includes('"msg":"http request"'));

describe("the request line's path (hole: escaped spellings were logged as typed)", () => {
  it("a held secret typed as is or in base64, authenticated or not, is scrubbed (04ad9e2: it was logged as typed)", async () => {
    const before = requestLines().length;
    const b64 = Buffer.from(UPSTREAM_SECRET).toString("base64").replace(/=+$/, "");
    const paths = [`/api/echo/${UPSTREAM_SECRET}`, `/api/echo/${b64}`, `/legacy/x/${BASIC_PASSWORD}`, `/api/echo/${OTHER_AGENT}`];
    for (const path of paths) await rawRequest(`${g.url}${path}`, { headers: authed() });
    await rawRequest(`${g.url}/api/echo/${UPSTREAM_SECRET}`, { headers: { authorization: "Bearer nope" } });
    const lines = requestLines().slice(before);
    expect(lines).toHaveLength(paths.length + 1);
    for (const secret of [UPSTREAM_SECRET, b64, TAIL_PW, TAIL_TOKEN]) expect(lines.join("")).not.toContain(secret);
    for (const line of lines) expect(line).toContain("[REDACTED]");
  });

  it("a held secret typed with escapes, whole or in part, is scrubbed", async () => {
    const before = requestLines().length;
    const paths = [
      "/legacy/x/p%40ss%3Aw0rd%21" + TAIL_PW,
      "/legacy/x/p@ss%3aw0rd!" + TAIL_PW,
      "/legacy/x/p%40ss:w0rd%21" + TAIL_PW + "/more",
      "/api/echo/tok%2Ben%3D" + TAIL_TOKEN,
      "/api/echo/tok+en%3d" + TAIL_TOKEN,
    ];
    for (const path of paths) await rawRequest(`${g.url}${path}`, { headers: authed() });
    const lines = requestLines().slice(before);
    expect(lines).toHaveLength(paths.length);
    for (const line of lines) {
      expect(line).not.toContain(TAIL_PW);
      expect(line).not.toContain(TAIL_TOKEN);
      expect(line).toContain("[REDACTED]");
    }
  });

  it("an email typed with an escaped @ is masked as the plain one is", async () => {
    const before = requestLines().length;
    for (const path of ["/api/customers/alice%40example.com", "/api/customers/alice@example.com", "/api/customers/bob%40example%2Ecom/orders"]) {
      await rawRequest(`${g.url}${path}`, { headers: authed() });
    }
    const lines = requestLines().slice(before);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).not.toMatch(/alice|bob/);
      expect(line).toContain('"path":"/api/customers/****');
    }
  });

  it("(pins the memo) a path without a secret or identifier is logged as it was canonicalised, every time", async () => {
    const before = requestLines().length;
    for (let i = 0; i < 2; i++) await rawRequest(`${g.url}/api/items/a%2Bb/%7Ex`, { headers: authed() });
    const lines = requestLines().slice(before);
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toContain('"path":"/api/items/a%2Bb/~x"');
  });
});
