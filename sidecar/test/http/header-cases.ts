// A table of response headers under field rules, through a real upstream and gateway: each leaky case's secret
// must not reach the agent (and a redaction must), each must-allow case comes back byte for byte. Values have no
// detectable shape, so only the field rule's name can find them.

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MaskRule } from "../../src/decision/types.js";
import type { HttpInput } from "../../src/http/index.js";
import { REDACTED } from "../../src/mask/index.js";
import { authed, closeServer, listen, rawRequest, startGateway, TestRulesDecider, type GatewayUnderTest } from "./fixtures.js";

export interface HeaderCases {
  rules: MaskRule[];
  /** Each case: the headers the upstream sends, and the secret that must not reach the agent. */
  leaky: Record<string, [OutgoingHttpHeaders, string]>;
  mustAllow: Record<string, OutgoingHttpHeaders>;
  leakyTitle: string;
  mustAllowTitle: string;
}

export function describeHeaderCases(c: HeaderCases): void {
  let gw: GatewayUnderTest;
  let upstream: ReturnType<typeof createServer>;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    const [, kind, name] = (req.url ?? "").split("?")[0]!.split("/");
    const headers = kind === "leak" ? c.leaky[name!]?.[0] : c.mustAllow[name!];
    if (!headers) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json", ...headers }).end('{"ok":true}');
  };

  beforeAll(async () => {
    upstream = createServer(handle);
    const url = await listen(upstream);
    const decider = new TestRulesDecider((input) => ((input.http as HttpInput).path.startsWith("/leak/") || (input.http as HttpInput).path.startsWith("/allow/") ? { mask: c.rules } : {}));
    gw = await startGateway({ decider, routes: [{ name: "api", prefix: "/", upstream: url }] });
  });

  afterAll(async () => {
    await gw?.close();
    if (upstream) await closeServer(upstream);
  });

  const get = async (path: string) => rawRequest(`${gw.url}${path}`, { headers: authed() });

  describe(c.leakyTitle, () => {
    for (const [name, [sent, secret]] of Object.entries(c.leaky)) {
      it(name, async () => {
        const res = await get(`/leak/${name}`);
        expect(res.status).toBe(200);
        const text = JSON.stringify(Object.keys(sent).map((h) => res.headers[h.toLowerCase()]));
        expect(text).not.toContain(secret);
        expect(text).toContain(REDACTED);
        expect(res.body.toString()).toBe('{"ok":true}');
      });
    }
  });

  describe(c.mustAllowTitle, () => {
    for (const [name, sent] of Object.entries(c.mustAllow)) {
      it(name, async () => {
        const res = await get(`/allow/${name}`);
        expect(res.status).toBe(200);
        for (const [h, v] of Object.entries(sent)) expect(res.headers[h], h).toBe(v);
      });
    }
  });
}
