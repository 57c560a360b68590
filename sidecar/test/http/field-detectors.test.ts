// A rule that gives a field and a detector together: the detector scans only the values under that field
// (a name, or a JSON pointer). The masker and the streamed joins read such rules, but the decision schema
// refused them (POLICY_RESULT_INVALID: one target per rule), so no policy could ask for them. Through the
// gateway, with the decision validated as any policy's is: the SSN in `content` is masked, the same digits
// elsewhere are not, and an SSN split across an OpenAI-style stream's deltas is masked under a pointer rule.

import { createServer, type Server } from "node:http";
import { createParser } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpInput, MaskRule } from "../../src/decision/types.js";
import { authed, closeServer, listen, startGateway, TestRulesDecider, type GatewayUnderTest } from "./fixtures.js";

const SSN = "607-59-5353";
const BODY = JSON.stringify({ id: "msg-1", content: `the customer's SSN is ${SSN}`, ticket: `ref ${SSN}` });
const PIECES = ["SSN: 607-", "59-53", "53, thanks"];

const RULES: Record<string, MaskRule[]> = {
  name: [{ field: "content", detector: "ssn", strategy: "redact" }],
  pointer: [{ field: "/choices/*/delta/content", detector: "ssn", strategy: "redact" }],
};

let upstream: Server;
let gw: GatewayUnderTest;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (req.url?.includes("/stream")) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const chunk = (content: string) => `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
      let i = 0;
      const next = (): void => {
        if (i < PIECES.length) {
          res.write(chunk(PIECES[i++]!));
          setTimeout(next, 20);
        } else res.end("data: [DONE]\n\n");
      };
      next();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(BODY);
  });
  const url = await listen(upstream);
  const decider = new TestRulesDecider((input) => {
    const kind = (input.http as HttpInput).path.split("/")[1] ?? "";
    return { mask: RULES[kind] ?? [] };
  });
  gw = await startGateway({ decider, routes: [{ name: "api", prefix: "/", upstream: url }] });
}, 30_000);

afterAll(async () => {
  await gw?.close();
  await closeServer(upstream);
});

describe("a detector scoped to a field", () => {
  it("is accepted as a policy's rule and masks only that field's values", async () => {
    const res = await fetch(`${gw.url}/name/record`, { headers: authed() });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { content: string; ticket: string };
    expect(body.content).not.toContain(SSN);
    expect(body.content).toContain("the customer's SSN is ");
    expect(body.ticket).toBe(`ref ${SSN}`);
  });

  it("under a pointer, joins a value split across streamed deltas", async () => {
    const res = await fetch(`${gw.url}/pointer/stream`, { headers: authed() });
    expect(res.status).toBe(200);
    let text = "";
    const parser = createParser({
      onEvent: (e) => {
        if (e.data === "[DONE]") return;
        text += (JSON.parse(e.data) as { choices: { delta: { content?: string } }[] }).choices[0]!.delta.content ?? "";
      },
    });
    parser.feed(await res.text());
    expect(text.startsWith("SSN: ")).toBe(true);
    expect(text.replace(/[^0-9]/g, "")).not.toContain("607595353");
    expect(text.endsWith(", thanks")).toBe(true);
  });

  it("a rule with two targets (a column and a field) is still refused", async () => {
    const bad = new TestRulesDecider(() => ({ mask: [{ column: "public.customers.ssn", field: "ssn", strategy: "redact" } as MaskRule] }));
    const g = await startGateway({ decider: bad, routes: [{ name: "api", prefix: "/", upstream: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` }] });
    try {
      const res = await fetch(`${g.url}/x`, { headers: authed() });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("POLICY_RESULT_INVALID");
    } finally {
      await g.close();
    }
  });
});
