// How the whole-body path (relay-scrubbed-whole.ts, and the masked whole read in upstream-response.ts) answers
// when the body does not simply arrive: regate's own code throwing where undici calls back, an upstream that
// cuts the body short, and one that drips it. Each case is judged by what the agent receives, through a real
// regate in front of a real (raw TCP) upstream.

import { connect, type Server, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { HttpInput } from "../../src/decision/types.js";
import { LeakGuard } from "../../src/http/leak-guard.js";
import { ChunkScrubber } from "../../src/http/scrub.js";
import { AGENT_TOKEN, authed, FIELD_RULES, rawRequest, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest, type RawResponse, headsUpstream } from "./fixtures.js";

const S = UPSTREAM_SECRET;
const DRIP_BODY = `token=${S}\n`;
/**
 * How long an answer may take before the agent counts as left hanging. Each case here is answered at once (or
 * after WHOLE_WAIT_MS, relay-scrubbed-whole.ts), or else by the gateway's timeout_ms (1.5 s, fixtures.ts) with a
 * status the case rejects; a hang is forever. Far from both, so a loaded machine cannot turn one into the other.
 */
const HANG_MS = 10_000;
/** The dripping upstream sends the rest of its body when this is called: once the agent has the head. */
let sendDripRest: (() => void) | undefined;

function answer(sock: Socket, path: string): void {
  const body = path.startsWith("/m/") ? '{"ssn":"123-45-6789","n":1}' : `{"echo":"${S}","n":1}`;
  if (path.endsWith("/ok")) {
    sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    return;
  }
  if (path.endsWith("/cut")) {
    // Declares 40 bytes, sends 20 of them (the credential's first ones among them), and closes.
    sock.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\ntoken=${S.slice(0, 14)}`);
    return;
  }
  if (path === "/drip") {
    const b = Buffer.from(DRIP_BODY);
    const cut = 10;
    sock.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${b.length}\r\n\r\n`), b.subarray(0, cut)]));
    // The rest waits for the agent to have the head: if regate held the head until the body was whole, it never comes.
    sendDripRest = () => void (sock.destroyed || sock.write(b.subarray(cut)));
  }
}

let upstream: Server;
let gw: GatewayUnderTest;

beforeAll(async () => {
  const raw = await headsUpstream((sock, head) => answer(sock, head.split(" ")[1]!));
  upstream = raw.server;
  const url = `http://127.0.0.1:${raw.port}`;
  const decider = new TestRulesDecider((input) => ((input.http as HttpInput).path.startsWith("/m/") ? { mask: FIELD_RULES } : {}));
  gw = await startGateway({ decider, routes: [{ name: "api", prefix: "/", upstream: url, credential: { type: "bearer", value: S } }] });
});

afterAll(async () => {
  await gw.close();
  await new Promise((r) => upstream.close(r));
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** The agent's answer, or a rejection if none comes in `ms` (an agent left hanging). */
function within(ms: number, p: Promise<RawResponse>): Promise<RawResponse> {
  return Promise.race([p, new Promise<RawResponse>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))]);
}

describe("a throw where undici calls back answers the agent", () => {
  it("the scrubbed whole path: 500 INTERNAL (regate's fault, not the upstream's), not a hang", async () => {
    vi.spyOn(ChunkScrubber.prototype, "write").mockImplementationOnce(() => {
      throw new Error("scrubber broke");
    });
    const res = await within(HANG_MS, rawRequest(`${gw.url}/ok`, { headers: authed() }));
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body.toString())).toMatchObject({ code: "INTERNAL" });
    expect(res.body.toString()).not.toContain(S);
    // The next request on the route is answered as usual.
    const again = await rawRequest(`${gw.url}/ok`, { headers: authed() });
    expect(again.status).toBe(200);
    expect(again.body.toString()).toBe(`{"echo":"${"*".repeat(S.length)}","n":1}`);
  });

  it("the masked whole read: 500 INTERNAL, not a hang", async () => {
    vi.spyOn(LeakGuard.prototype, "end").mockImplementationOnce(() => {
      throw new Error("guard broke");
    });
    const res = await within(HANG_MS, rawRequest(`${gw.url}/m/ok`, { headers: authed() }));
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body.toString())).toMatchObject({ code: "INTERNAL" });
    expect(res.body.toString()).not.toContain("123-45-6789");
  });
});

describe("a body the upstream cuts short on the whole path", () => {
  it.each([
    ["GET", ""],
    ["POST", ", do not retry it"],
  ])("%s: 502 UPSTREAM_UNAVAILABLE saying the upstream already handled it; none of the partial body", async (method, retry) => {
    const res = await within(HANG_MS, rawRequest(`${gw.url}/cut`, { method, headers: authed(), ...(method === "POST" ? { body: "{}" } : {}) }));
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body.toString())).toEqual({
      error: "upstream_unavailable",
      code: "UPSTREAM_UNAVAILABLE",
      reason: `upstream closed the connection mid-response; the upstream already handled the request${retry}`,
    });
    expect(res.body.toString()).not.toContain(S.slice(0, 14));
  });

  it("masked, the same answer", async () => {
    const res = await within(HANG_MS, rawRequest(`${gw.url}/m/cut`, { headers: authed() }));
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body.toString())).toMatchObject({ code: "UPSTREAM_UNAVAILABLE", reason: "upstream closed the connection mid-response; the upstream already handled the request" });
  });
});

describe("an upstream that drips a small body", () => {
  it("the agent gets the head before the rest of the body is sent, then the whole scrubbed body", async () => {
    let head = false;
    const out = await new Promise<string>((resolve, reject) => {
      const sock = connect(gw.port, "127.0.0.1", () => sock.write(`GET /drip HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${AGENT_TOKEN}\r\nconnection: close\r\n\r\n`));
      let seen = "";
      sock.on("data", (d: Buffer) => {
        seen += d.toString("latin1");
        if (!head && seen.includes("\r\n\r\n")) {
          // The head went out once the whole read gave up waiting, not when the last byte came.
          head = true;
          sendDripRest!();
        }
      });
      sock.on("end", () => resolve(seen));
      sock.on("error", reject);
      sock.setTimeout(HANG_MS, () => {
        sock.destroy();
        resolve(seen);
      });
    });
    expect(head).toBe(true);
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    expect(out.toLowerCase()).toContain(`content-length: ${DRIP_BODY.length}\r\n`);
    expect(out.slice(out.indexOf("\r\n\r\n") + 4)).toBe(`token=${"*".repeat(S.length)}\n`);
  });
});
