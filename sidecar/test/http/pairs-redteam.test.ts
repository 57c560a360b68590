// Red team of field rules where data names the field (pairs-must-allow.test.ts is the other half): pairs
// whose value sits under a member other than `value` (CloudFormation's ParameterValue, audit logs' old and
// new values, Jira's changelog fromString/toString, compact {k, v}), `ssn=…` in text written as logfmt
// (`ssn="…"`), label lists (`env=prod,ssn=…`) and printed records (`Customer(id=3, ssn=…)`), and dotted names that are a flattened
// path (OpenTelemetry and Datadog attributes, Elasticsearch `fields`): `user.email` is `email` one level
// down, as `{"user": {"email": …}}` is. A real upstream, a real gateway, the bytes the agent read, whole,
// chunked, as SSE data and as JSON lines. Non-JSON bodies (CSV, XML, HTML) are refused under field rules.

import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MaskRule } from "../../src/decision/types.js";
import type { HttpInput } from "../../src/http/index.js";
import { REDACTED } from "../../src/mask/index.js";
import { authed, closeServer, listen, rawRequest, startGateway, TestRulesDecider, type GatewayUnderTest } from "./fixtures.js";
import { createServer } from "node:http";
import { CARD, EMAIL, SSN } from "./pairs-corpus.js";

const OLD_EMAIL = "bob.k@example.org";
const RULES: MaskRule[] = [
  { field: "ssn", strategy: "redact" },
  { field: "email", strategy: "redact" },
  { field: "card_number", strategy: "redact" },
];
const SECRETS = [SSN, CARD, EMAIL, OLD_EMAIL, "bob.k@mail.email"];

const ESCAPED: Record<string, unknown> = {
  cloudFormation: { Stacks: [{ Parameters: [{ ParameterKey: "Ssn", ParameterValue: SSN }, { ParameterKey: "Env", ParameterValue: "prod" }] }] },
  jiraChangelog: { histories: [{ items: [{ field: "Email", fieldtype: "custom", from: OLD_EMAIL, fromString: OLD_EMAIL, to: EMAIL, toString: EMAIL }] }] },
  salesforceHistory: { records: [{ attributes: { type: "ContactHistory" }, Field: "Email", OldValue: OLD_EMAIL, NewValue: EMAIL }] },
  zendeskAudit: { events: [{ type: "Change", field_name: "email", value: EMAIL, previous_value: OLD_EMAIL }] },
  compactKv: { kv: [{ k: "ssn", v: SSN }] },
  val: { attrs: [{ name: "card_number", val: CARD }] },
  fieldValue: { fields: [{ fieldName: "ssn", fieldValue: SSN }, { propertyName: "email", propertyValue: EMAIL }] },
  attributeValue: { UserAttributes: [{ AttributeName: "email", AttributeValue: EMAIL }] },
  stringValue: { labels: [{ key: "ssn", stringValue: SSN }] },
  valueFirstOld: { items: [{ oldValue: OLD_EMAIL, newValue: EMAIL, field: "email" }] },
  otelDotted: { resourceSpans: [{ scopeSpans: [{ spans: [{ attributes: [{ key: "user.email", value: { stringValue: EMAIL } }, { key: "http.method", value: { stringValue: "GET" } }] }] }] }] },
  datadogDotted: { data: [{ attributes: { attributes: { "usr.email": EMAIL, "usr.id": "42" } } }] },
  esFields: { hits: { hits: [{ _id: "1", fields: { "customer.ssn": [SSN], "customer.card_number": [CARD] } }] } },
  dottedEntry: { items: [["user.email", EMAIL]] },
  logfmt: { log: `level=info user.email="${EMAIL}" ssn='${SSN}' msg="ok"` },
  commaPairs: { selector: `env=prod,ssn=${SSN},tier=web` },
  lombok: { error: `Customer(id=3, email=${EMAIL}, cardNumber=${CARD})` },
  bracketed: { note: `[ssn=${SSN}] (email=${EMAIL}) {card_number=${CARD}} |ssn=${SSN}|` },
  // A value spelled as its pair's name is code (`ssn=ssn`), but only the whole name: this is an address.
  emailTld: { log: "sent to email=bob.k@mail.email ok", other: `ssn=${SSN}` },
  dottedQuery: { next: `/c?page=2&user.email=${encodeURIComponent(EMAIL)}` },
};

function handle(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const [, , form, name] = (req.url ?? "").split("?")[0]!.split("/");
  const body = JSON.stringify(ESCAPED[name!]);
  switch (form) {
    case "whole":
      return void res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
    case "chunked":
      res.writeHead(200, { "content-type": "application/json" });
      for (let i = 0; i < body.length; i += 5) res.write(body.slice(i, i + 5));
      return void res.end();
    case "sse":
      return void res.writeHead(200, { "content-type": "text/event-stream" }).end(`data: ${body}\n\n`);
    case "ndjson":
      return void res.writeHead(200, { "content-type": "application/x-ndjson" }).end(`{"n":1}\n${body}\n`);
    case "csv":
      return void res.writeHead(200, { "content-type": "text/csv" }).end(`name,ssn,email\nAnn,${SSN},${EMAIL}\n`);
    case "xml":
      return void res.writeHead(200, { "content-type": "application/xml" }).end(`<customer><ssn>${SSN}</ssn></customer>`);
    case "html":
      return void res.writeHead(200, { "content-type": "text/html" }).end(`<table><tr><th>SSN</th></tr><tr><td>${SSN}</td></tr></table>`);
    case "yaml":
      return void res.writeHead(200, { "content-type": "application/yaml" }).end(`ssn: ${SSN}\n`);
    default:
      res.writeHead(404).end();
  }
}

let gw: GatewayUnderTest;
let upstream: ReturnType<typeof createServer>;

beforeAll(async () => {
  upstream = createServer(handle);
  const url = await listen(upstream);
  const decider = new TestRulesDecider((input) => ((input.http as HttpInput).path.startsWith("/f/") ? { mask: RULES } : {}));
  gw = await startGateway({ decider, routes: [{ name: "api", prefix: "/", upstream: url }] });
});

afterAll(async () => {
  await gw?.close();
  if (upstream) await closeServer(upstream);
});

const get = async (path: string) => rawRequest(`${gw.url}${path}`, { headers: authed() });

describe("values under other members and dotted names are masked as the field they name", () => {
  for (const form of ["whole", "chunked", "sse", "ndjson"]) {
    for (const name of Object.keys(ESCAPED)) {
      it(`${name}, ${form}`, async () => {
        const res = await get(`/f/${form}/${name}`);
        const text = res.body.toString("utf8");
        expect(res.status, text).toBe(200);
        for (const s of SECRETS) expect(text).not.toContain(s);
        expect(text).not.toContain(encodeURIComponent(EMAIL));
        // What names no masked field is left as it was.
        if (name === "cloudFormation") expect(text).toContain('"ParameterValue":"prod"');
        if (name === "otelDotted") expect(text).toContain('{"key":"http.method","value":{"stringValue":"GET"}}');
        if (name === "lombok") expect(text).toContain(`Customer(id=3, email=${REDACTED}, cardNumber=${REDACTED})`);
        if (name === "commaPairs") expect(text).toContain(`env=prod,ssn=${REDACTED},tier=web`);
        if (name === "logfmt") expect(text).toContain(`ssn='${REDACTED}' msg=\\"ok\\"`);
        if (name === "datadogDotted") expect(text).toContain('"usr.id":"42"');
      });
    }
  }
});

describe("bodies that are not JSON are refused under field rules (a column or element named ssn is not read)", () => {
  for (const form of ["csv", "xml", "html", "yaml"]) {
    it(form, async () => {
      const res = await get(`/f/${form}/x`);
      const text = res.body.toString("utf8");
      expect(res.status, text).toBe(403);
      expect(text).toContain("MASK_LINEAGE_UNKNOWN");
      expect(text).not.toContain(SSN);
      const clear = await get(`/u/${form}/x`);
      expect(clear.status).toBe(200);
    });
  }
});
