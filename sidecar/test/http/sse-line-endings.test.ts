// An event stream's line endings come back as the upstream wrote them through the masking path (sse-mask.ts,
// then the credential scrubber): CRLF and CR, `data:` without a space, a final line without a break. Only
// what a mask changes is rewritten. A real upstream writes the stream in pieces cut between CR and LF.

import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authed, MASKED, maskingGateway, rawRequest, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";
import { writePieces } from "./pieces.js";

const STREAMS: Record<string, string> = {
  crlf: 'event: message\r\nid: 7\r\ndata: {"n":1}\r\n\r\n: ping\r\n\r\ndata:{"n":2}\r\n\r\n',
  cr: 'event: message\rid: 7\rdata: {"n":1}\r\r: ping\r\rdata: [DONE]\r\r',
  mixed: 'data: {"n":1}\r\nretry: 100\n\r\ndata: {"n":2}\r\r\ndata: {"n":3}',
  masked: `data: {"n":1}\r\n\r\ndata: {"email":"${MASKED.email}"}\r\n\r\ndata: {"n":2}\r\n\r\n`,
};

/** Writes the stream in pieces, one cut between each CR and the LF after it, a little apart. */
function events(req: IncomingMessage, res: ServerResponse): void {
  const stream = STREAMS[(req.url ?? "").split("/").at(-1)!];
  if (stream === undefined) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream" });
  writePieces(res, stream.split(/(?<=\r)(?=\n)/));
}

let gw: GatewayUnderTest;
let close: () => Promise<void>;

beforeAll(async () => {
  const g = await maskingGateway(events, { route: { credential: { type: "bearer", value: UPSTREAM_SECRET } } });
  gw = g.gw;
  close = g.close;
});

afterAll(async () => {
  await close();
});

const get = async (path: string): Promise<string> => {
  const r = await rawRequest(`${gw.url}${path}`, { headers: authed() });
  expect(r.status).toBe(200);
  return r.body.toString("latin1");
};

describe.each([
  ["detector rules", "/d/"],
  ["field rules", "/f/"],
  ["no mask rules", "/"],
])("an event stream under %s", (_label, prefix) => {
  it.each(["crlf", "cr", "mixed"])("%s: byte for byte", async (name) => {
    expect(await get(`${prefix}s/${name}`)).toBe(STREAMS[name]);
  });
});

it("a masked event keeps its CRLF, and the events around it are untouched", async () => {
  const out = await get("/d/s/masked");
  expect(out).not.toContain(MASKED.email);
  expect(out.replace(/"email":"[^"]*"/, '"email":"X"')).toBe(STREAMS.masked!.replace(MASKED.email, "X"));
});
