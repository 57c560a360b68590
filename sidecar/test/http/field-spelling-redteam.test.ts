// Field masks that do not depend on how a field's name is spelled or where it is written (red team: "Masking
// that does not depend on spelling or framing"). A rule for `card_number` must mask `cardNumber`,
// `CardNumber`, `card-number`; a rule for `ssn` must mask `{"name":"SSN","value":…}` (Kubernetes env),
// `{"Key":"ssn","Value":…}` (AWS tags), `[["ssn", …]]` (entries) and `?ssn=…` in a URL string, in whole
// bodies, streamed bodies, event streams and JSON lines; a form or multipart body under field rules is
// refused. And must-allow: GitHub-, Stripe-, Kubernetes- and AWS-shaped payloads whose name/value pairs and
// 2-element arrays name no masked field come back byte for byte. A real upstream, a real gateway, the bytes
// the agent read.

import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MaskRule } from "../../src/decision/types.js";
import { REDACTED } from "../../src/mask/index.js";
import type { HttpInput } from "../../src/http/index.js";
import { authed, closeServer, listen, rawRequest, startGateway, TestRulesDecider, type GatewayUnderTest } from "./fixtures.js";

const SSN = "607-59-5353";
const CARD = "4111111111111111";
const RULES: MaskRule[] = [
  { field: "ssn", strategy: "redact" },
  { field: "card_number", strategy: "redact" },
];

/** Bodies by name; each is served whole (with its length), chunked (streamed), as SSE data and as JSON lines. */
const LEAKY: Record<string, unknown> = {
  camel: { cardNumber: CARD },
  pascal: { CardNumber: CARD },
  kebab: { "card-number": CARD },
  spaced: { "Card Number": CARD },
  upperSnake: { CARD_NUMBER: CARD },
  dotted: { "card.number": CARD },
  k8sEnv: { env: [{ name: "SSN", value: SSN }] },
  awsTags: { Tags: [{ Key: "ssn", Value: SSN }] },
  keyValue: { items: [{ key: "ssn", value: SSN }] },
  fieldValue: { fields: [{ field: "ssn", value: SSN }] },
  propertyValue: { properties: [{ property: "ssn", value: SSN }] },
  valueFirst: { items: [{ value: SSN, name: "ssn" }] },
  valueFirstNested: { items: [{ value: { text: SSN, n: [1, 2] }, extra: true, name: "ssn" }] },
  spelledPair: { items: [{ name: "Card Number", value: CARD }] },
  entries: { entries: [["ssn", SSN]] },
  entriesCamel: [["cardNumber", CARD], ["x", 1]],
  query: { next: `/customers?page=2&ssn=${SSN}` },
  queryFragment: { next: `/c#card_number=${CARD}&x=1` },
};

/** Shaped like real APIs: pairs and 2-element arrays that name nothing masked (the `ssn` field name aside). */
const MUST_ALLOW: Record<string, unknown> = {
  github: { name: "octocat/hello", topics: ["api", "cli"], labels: [{ name: "bug", color: "d73a4a" }], variables: [{ name: "SESSION_TTL", value: "3600", created_at: "2020-01-10T14:59:22Z" }] },
  stripe: { object: "list", data: [{ id: "ch_1", amount: 2000, metadata: { order_id: "6735" }, custom_fields: [{ key: "engraving", label: { type: "custom", custom: "Engraving" }, text: { value: "Happy birthday" } }] }] },
  kubernetes: { spec: { containers: [{ name: "app", env: [{ name: "SESSION_SECRET_NAME", value: "app-session" }, { name: "PORT", value: "8080" }], ports: [{ name: "http", containerPort: 8080 }] }] }, selector: { matchExpressions: [{ key: "tier", operator: "In", values: ["web", "api"] }] } },
  aws: { Tags: [{ Key: "Name", Value: "web-1" }, { Key: "session", Value: "s-123456789" }], Filters: [{ Name: "instance-state-name", Values: ["running"] }] },
  pairs: { langs: ["en", "fr"], coords: [[12.5, 41.9], [2.35, 48.85]], headers: [["content-type", "text/html"], ["x-session", "abc"]], range: ["ssnx", "607-59-5353-not"], odata: { value: [{ id: 1 }, { id: 2 }] } },
  urls: { next: "/customers?page=2&session=4111111111111111", self: "/x?sn=1" },
  names: { session: CARD, cardnumbers: 3, card: { number_of: 2 }, ssn_count: 5, name: "session", value: "ok", note: "name=ssn", link: "/x?session=4111111111111111&s=1" },
};

function handle(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const [, , form, name] = (req.url ?? "").split("?")[0]!.split("/");
  const bodies = { ...LEAKY, ...MUST_ALLOW };
  const body = JSON.stringify(bodies[name!]);
  switch (form) {
    case "whole":
      return void res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
    case "chunked":
      // No length: the streaming masker, fed a few bytes at a time.
      res.writeHead(200, { "content-type": "application/json" });
      for (let i = 0; i < body.length; i += 7) res.write(body.slice(i, i + 7));
      return void res.end();
    case "sse":
      return void res.writeHead(200, { "content-type": "text/event-stream" }).end(`data: ${body}\n\n`);
    case "ndjson":
      return void res.writeHead(200, { "content-type": "application/x-ndjson" }).end(`${body}\n{"n":1}\n`);
    case "form":
      return void res.writeHead(200, { "content-type": "application/x-www-form-urlencoded" }).end(`ssn=${SSN}&card_number=${CARD}`);
    case "multipart":
      return void res
        .writeHead(200, { "content-type": "multipart/form-data; boundary=b" })
        .end(`--b\r\nContent-Disposition: form-data; name="ssn"\r\n\r\n${SSN}\r\n--b--\r\n`);
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
const FORMS = ["whole", "chunked", "sse", "ndjson"] as const;

describe("a field's value is masked whatever its name's spelling or framing", () => {
  for (const form of FORMS) {
    for (const name of Object.keys(LEAKY)) {
      it(`${name}, ${form}`, async () => {
        const res = await get(`/f/${form}/${name}`);
        const text = res.body.toString("utf8");
        expect(res.status, text).toBe(200);
        expect(text).not.toContain(SSN);
        expect(text).not.toContain(CARD);
        expect(text).toContain(REDACTED);
      });
    }
  }
});

describe("must-allow: pairs and 2-element arrays naming no masked field pass byte for byte", () => {
  for (const form of FORMS) {
    for (const name of Object.keys(MUST_ALLOW)) {
      it(`${name}, ${form}`, async () => {
        const masked = await get(`/f/${form}/${name}`);
        const clear = await get(`/u/${form}/${name}`);
        expect(masked.status).toBe(200);
        expect(masked.body.toString("utf8")).toBe(clear.body.toString("utf8"));
      });
    }
  }
});

describe("bodies where no field can be found are refused under field rules", () => {
  for (const form of ["form", "multipart"]) {
    it(form, async () => {
      const res = await get(`/f/${form}/x`);
      const text = res.body.toString("utf8");
      expect(res.status).toBe(403);
      expect(text).toContain("MASK_LINEAGE_UNKNOWN");
      expect(text).not.toContain(SSN);
      expect(text).not.toContain(CARD);
    });
  }
});

describe("http.mask_field_names keeps older matching when a deployer asks for it", () => {
  for (const [names, camelMasked, upperMasked] of [
    ["case", false, true],
    ["exact", false, false],
  ] as const) {
    it(names, async () => {
      const server = createServer(handle);
      const url = await listen(server);
      const decider = new TestRulesDecider(() => ({ mask: RULES }));
      const other = await startGateway({ decider, routes: [{ name: "api", prefix: "/", upstream: url }], mask_field_names: names });
      try {
        const camel = (await rawRequest(`${other.url}/f/whole/camel`, { headers: authed() })).body.toString("utf8");
        const upper = (await rawRequest(`${other.url}/f/whole/upperSnake`, { headers: authed() })).body.toString("utf8");
        expect(camel.includes(CARD)).toBe(!camelMasked);
        expect(upper.includes(CARD)).toBe(!upperMasked);
      } finally {
        await other.close();
        await closeServer(server);
      }
    });
  }
});
