// Two agents share regate in front of one upstream that writes past its Content-Length (a miscounted length,
// a lenient server): the bytes after the body hold a record's masked field and the route's credential as
// the upstream received it. Neither agent may read the unmasked value or the credential (as sent or base64);
// the other agent never reads those bytes at all and keeps getting its own answers: the pooled connection
// that carried agent A's answer must not hand agent B what A's answer left behind (upstream-pools.ts). Bytes
// that arrive after A's connection went out again with A's next request cannot be told from its answer:
// that answer is A's own to lose, masked by the same rules. Each agent talks over its own keep-alive
// connection with its own token; what they read is the bytes node:http received.

import { Agent, request } from "node:http";
import type { Socket } from "node:net";
import type { Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpInput } from "../../src/http/index.js";
import { AgentDirectory } from "../../src/identity/index.js";
import { headsUpstream, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

const TOKENS = { a: `agent-a-${UPSTREAM_SECRET.slice(-8)}-token`, b: `agent-b-${UPSTREAM_SECRET.slice(-8)}-token` } as const;
/** A value only the field rule can find (no detector shape), and the rule. */
const NAME = "Quixotic Marlowe";
const RULES = [{ field: "name", strategy: "redact" as const }];
const SECRET_B64 = Buffer.from(UPSTREAM_SECRET).toString("base64");
const CREDENTIAL_B64 = Buffer.from(`Bearer ${UPSTREAM_SECRET}`).toString("base64");
/** What no agent may read, in any answer. */
const VALUES = [NAME, UPSTREAM_SECRET, SECRET_B64, CREDENTIAL_B64];
/** What marks the trailing bytes: the other agent never reads them. */
const TRAILING = ["smuggled", "trailing"];

/** What the upstream writes after the body: a whole response whose body holds the masked value and the credential it was sent. */
function trailing(credential: string): string {
  const secret = credential.replace(/^Bearer /, "");
  const body = JSON.stringify({ smuggled: "trailing", name: NAME, auth: credential, b64: Buffer.from(credential).toString("base64"), b64s: Buffer.from(secret).toString("base64") });
  return `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
}

/**
 * A keep-alive upstream on a raw socket. /over/<how>/<who> answers `{"name":…,"for":…}` with its exact length,
 * then writes the trailing response: in the same write (`same`), on the next turn (`next`: it arrives
 * while the connection is pooled) or 20 ms later (`later`). Anything else gets its own answer, a little
 * late, so that a desynchronised connection would hand it the trailing bytes first (/plain/… without a name).
 */
function answer(sock: Socket, head: string): void {
  const [method, path] = head.split(" ") as [string, string];
  const credential = /^authorization: *(.*)$/im.exec(head)?.[1] ?? "";
  const [, kind, how] = path.split("/");
  const body = JSON.stringify(path.startsWith("/plain") ? { for: path } : { name: NAME, for: path });
  const response = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${method === "HEAD" ? "" : body}`;
  if (kind !== "over") return void setTimeout(() => sock.write(response), 30);
  if (how === "same") return void sock.write(response + trailing(credential));
  sock.write(response);
  if (how === "next") setImmediate(() => sock.write(trailing(credential)));
  else setTimeout(() => sock.write(trailing(credential)), 20);
}

let upstream: Server;
let gw: GatewayUnderTest;
const agents = { a: new Agent({ keepAlive: true, maxSockets: 1 }), b: new Agent({ keepAlive: true, maxSockets: 1 }) };

beforeAll(async () => {
  const raw = await headsUpstream(answer);
  upstream = raw.server;
  const decider = new TestRulesDecider((input) => ((input.http as HttpInput).path.startsWith("/plain") ? {} : { mask: RULES }));
  gw = await startGateway({
    agents: new AgentDirectory({ tokens: [{ subject: "agent-a", groups: [], token: TOKENS.a }, { subject: "agent-b", groups: [], token: TOKENS.b }] }),
    routes: [{ name: "api", prefix: "/", upstream: `http://127.0.0.1:${raw.port}`, credential: { type: "bearer", value: UPSTREAM_SECRET } }],
    decider,
  });
});

afterAll(async () => {
  agents.a.destroy();
  agents.b.destroy();
  await gw.close();
  await new Promise((resolve) => upstream.close(resolve));
});

interface Read {
  status: number;
  /** The status line, the headers and the body, as the agent read them. */
  text: string;
  body: string;
}

/** One request by `who` over its own keep-alive connection to regate. */
function send(who: "a" | "b", path: string): Promise<Read> {
  return new Promise((resolve, reject) => {
    const req = request(`${gw.url}${path}`, { agent: agents[who], headers: { authorization: `Bearer ${TOKENS[who]}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("latin1");
        resolve({ status: res.statusCode ?? 0, text: `${res.statusCode} ${JSON.stringify(res.rawHeaders)}\n${body}`, body });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

const clean = (r: Read): void => {
  for (const f of VALUES) expect(r.text, f).not.toContain(f);
};
const own = (r: Read, path: string): void => {
  expect(r.status).toBe(200);
  expect(JSON.parse(r.body)).toEqual({ name: "****", for: path });
  clean(r);
  for (const f of TRAILING) expect(r.text, f).not.toContain(f);
};
/** An answer of the agent whose own answer overran: whatever it holds, masked and scrubbed. */
const masked = (r: Read): void => {
  expect(r.status).toBe(200);
  expect(JSON.parse(r.body)).toMatchObject({ name: "****" });
  clean(r);
};
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("bytes past Content-Length with a mask rule, two agents", () => {
  for (const how of ["same", "next", "later"] as const) {
    it(`written ${how}: the other agent never reads them and keeps its own answers; no one reads the value or the credential`, async () => {
      const first = await send("a", `/over/${how}/a`);
      own(first, `/over/${how}/a`);
      // B asks at once, on whatever connection the pool hands it; then again after the late bytes came.
      const [b1, a2] = await Promise.all([send("b", "/res/b1"), send("a", "/res/a2")]);
      own(b1, "/res/b1");
      masked(a2);
      await pause(60);
      own(await send("b", "/res/b2"), "/res/b2");
      // A's connection that read the late bytes was closed when its own answer then came unasked.
      masked(await send("a", "/res/a3"));
      await pause(60);
      own(await send("a", "/res/a4"), "/res/a4");
      own(await send("b", "/res/b3"), "/res/b3");
    });
  }

  it("both agents overrun at once, then read their own answers", async () => {
    const reads = await Promise.all([send("a", "/over/same/a"), send("b", "/over/next/b"), send("a", "/over/later/a2"), send("b", "/over/same/b2")]);
    // Each agent asks one after the other (maxSockets 1): its second request may read its first's late bytes.
    own(reads[0]!, "/over/same/a");
    own(reads[1]!, "/over/next/b");
    for (const r of reads.slice(2)) masked(r);
    await pause(120);
    const after = await Promise.all([send("a", "/res/a9"), send("b", "/res/b9")]);
    own(after[0]!, "/res/a9");
    own(after[1]!, "/res/b9");
  });
});

describe("the same agent under other rules", () => {
  it("an unmasked request right after a masked answer that overran never reads what it left", async () => {
    own(await send("a", "/over/later/a5"), "/over/later/a5");
    const plain = await send("a", "/plain/z");
    expect(JSON.parse(plain.body)).toEqual({ for: "/plain/z" });
    clean(plain);
    await pause(60);
    own(await send("a", "/res/a6"), "/res/a6");
  });
});

describe("must-allow", () => {
  it("ordinary answers to both agents, masked and not", async () => {
    own(await send("a", "/res/x"), "/res/x");
    const plain = await send("b", "/plain/y");
    expect(JSON.parse(plain.body)).toEqual({ for: "/plain/y" });
  });
});
