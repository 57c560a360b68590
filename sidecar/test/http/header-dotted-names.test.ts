// Response headers and dotted names, read as field-names.ts reads a dotted JSON key (a path written flat): a
// name's last parts name the field, what follows a dot is a member of what comes before it. Under rules for
// `email`, `ssn` and `full_name`, `X-User.Email`, `Location: /x?user.email=…` and `customer.full.name=…` are
// masked; `email.verified=true`, `X-Email.Verified`, `ssn.last4` and `full_name.length` pass byte for byte,
// as `{"email.verified": true}` does in a body. Values here have no detectable shape: only the name finds
// them. A real upstream, a real gateway, what the agent read.

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MaskRule } from "../../src/decision/types.js";
import type { HttpInput } from "../../src/http/index.js";
import { REDACTED } from "../../src/mask/index.js";
import { authed, closeServer, listen, rawRequest, startGateway, TestRulesDecider, type GatewayUnderTest } from "./fixtures.js";

const MAIL = "ada-at-home";
const NAME = "Ada Lovelace";
const TAXID = "TX-4471-Q";
const RULES: MaskRule[] = [
  { field: "email", strategy: "redact" },
  { field: "ssn", strategy: "redact" },
  { field: "full_name", strategy: "redact" },
];

/** Each case: the headers the upstream sends, and the secret that must not reach the agent. */
const LEAKY: Record<string, [OutgoingHttpHeaders, string]> = {
  dottedHeader: [{ "x-user.email": MAIL }, MAIL],
  dottedHeaderDeeper: [{ "x-customer.full.name": NAME }, NAME],
  queryDotted: [{ location: `/x?user.email=${MAIL}&page=2` }, MAIL],
  queryDottedRuleWords: [{ location: `/x?customer.full_name=${encodeURIComponent(NAME)}` }, "Lovelace"],
  customPairsDotted: [{ "x-attrs": `customer.ssn=${TAXID}; region=eu` }, TAXID],
  linkDotted: [{ link: `</p?person.email=${MAIL}>; rel="next"` }, MAIL],
};

const MUST_ALLOW: Record<string, OutgoingHttpHeaders> = {
  dottedMembers: { "x-email.verified": "true", "x-ssn.last4": "6789", "x-full_name.length": "12" },
  queryMembers: { location: "/users/7?email.verified=true&ssn.last4=6789&full_name.length=12" },
  attrs: { "x-attrs": "email.verified=true; ssn.present=false", link: '</p?email.domain=example&page=2>; rel="next"' },
  kubernetesLabels: { "x-labels": "app.kubernetes.io/version=1.2.3,app.kubernetes.io/component=api" },
};

function handle(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const [, kind, name] = (req.url ?? "").split("?")[0]!.split("/");
  const headers = kind === "leak" ? LEAKY[name!]?.[0] : MUST_ALLOW[name!];
  if (!headers) return void res.writeHead(404).end();
  res.writeHead(200, { "content-type": "application/json", ...headers }).end('{"ok":true}');
}

let gw: GatewayUnderTest;
let upstream: ReturnType<typeof createServer>;

beforeAll(async () => {
  upstream = createServer(handle);
  const url = await listen(upstream);
  const decider = new TestRulesDecider((input) => ((input.http as HttpInput).path.startsWith("/leak/") || (input.http as HttpInput).path.startsWith("/allow/") ? { mask: RULES } : {}));
  gw = await startGateway({ decider, routes: [{ name: "api", prefix: "/", upstream: url }] });
});

afterAll(async () => {
  await gw?.close();
  if (upstream) await closeServer(upstream);
});

const get = async (path: string) => rawRequest(`${gw.url}${path}`, { headers: authed() });

describe("a dotted name whose last parts name a field rule has its value masked", () => {
  for (const [name, [sent, secret]] of Object.entries(LEAKY)) {
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

describe("must-allow: a dotted name that goes on past the field's name names a member of it, and passes byte for byte", () => {
  for (const [name, sent] of Object.entries(MUST_ALLOW)) {
    it(name, async () => {
      const res = await get(`/allow/${name}`);
      expect(res.status).toBe(200);
      for (const [h, v] of Object.entries(sent)) expect(res.headers[h], h).toBe(v);
    });
  }
});
