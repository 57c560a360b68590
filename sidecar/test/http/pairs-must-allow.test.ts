// Must-allow sweep of field rules where data names the field (field-names.ts): bodies shaped like GitHub,
// Stripe, Jira, Salesforce, HubSpot, Kubernetes, AWS, Slack, OpenAPI, GraphQL, Prometheus, Grafana, GeoJSON
// and Python dumps, full of name/value pairs, entries, dotted names and `name=value` text that name no masked
// field, come back byte for byte under the example policy's HTTP rules and a stricter set, whole, chunked at
// awkward points, as SSE data and as JSON lines, under every http.mask_field_names; those that name one are
// masked. Rules for a field literally called `name`, `value` or `key` mask that member, not the pairs.
// (pairs-redteam.test.ts is the other half.) A real upstream, real gateways, the bytes the agent read.

import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MaskRule } from "../../src/decision/types.js";
import type { FieldNameMatching } from "../../src/http/field-names.js";
import type { HttpInput } from "../../src/http/index.js";
import { REDACTED } from "../../src/mask/index.js";
import { authed, closeServer, listen, rawRequest, startGateway, TestRulesDecider, type GatewayUnderTest } from "./fixtures.js";
import { CARD, CLEAR, EMAIL, NAMED, SSN } from "./pairs-corpus.js";

/** The example policy's HTTP field rules (rego/regate/http.rego), and a stricter set. */
const RULE_SETS: Record<string, MaskRule[]> = {
  example: [
    { field: "email", strategy: "partial" },
    { field: "phone", strategy: "redact" },
    { field: "ssn", strategy: "redact" },
    { field: "card_number", strategy: "partial" },
  ],
  pii: [
    { field: "email", strategy: "redact" },
    { field: "ssn", strategy: "redact" },
    { field: "card_number", strategy: "redact" },
  ],
  name: [{ field: "name", strategy: "redact" }],
  value: [{ field: "value", strategy: "redact" }],
  key: [{ field: "key", strategy: "redact" }],
};

/**
 * OpenAPI: schemas keyed by field names pass as written (openapi-schemas.ts, openapi-must-allow.test.ts), but
 * this entry's `pattern` in the ssn schema and the email parameter's `example` are those fields' values: masked.
 */
const SCHEMA_KEYED = new Set(["openapi"]);

/** Small bodies for the literal `name`, `value`, `key` rules: what each must become. */
const LITERAL: Record<string, { body: unknown; rules: string; want: unknown }> = {
  valueRule: { body: { env: [{ name: "PORT", value: "8080" }], tags: [["value", 3]] }, rules: "value", want: { env: [{ name: "PORT", value: REDACTED }], tags: [["value", REDACTED]] } },
  nameRule: { body: { env: [{ name: "PORT", value: "8080" }], p: [{ name: "name", value: "Ann" }] }, rules: "name", want: { env: [{ name: REDACTED, value: "8080" }], p: [{ name: REDACTED, value: REDACTED }] } },
  keyRule: { body: { Tags: [{ Key: "Name", Value: "web-1" }], kv: [{ k: "key", v: "abc" }] }, rules: "key", want: { Tags: [{ Key: REDACTED, Value: "web-1" }], kv: [{ k: "key", v: REDACTED }] } },
};

const BODIES: Record<string, unknown> = { ...CLEAR, ...NAMED, ...Object.fromEntries(Object.entries(LITERAL).map(([k, v]) => [k, v.body])) };

/** Pretty-printed for every other body: layout must survive too. */
const text = (name: string): string => JSON.stringify(BODIES[name], null, name.length % 2 === 0 ? 2 : undefined);

function handle(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const [, , form, name] = (req.url ?? "").split("?")[0]!.split("/");
  if (!(name! in BODIES)) return void res.writeHead(404).end();
  const body = text(name!);
  switch (form) {
    case "whole":
      return void res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) }).end(body);
    case "chunked": {
      // Cut at awkward points: inside keys, escapes and numbers, a byte or three at a time.
      res.writeHead(200, { "content-type": "application/json" });
      const bytes = Buffer.from(body);
      for (let i = 0, step = 1; i < bytes.length; i += step, step = (step % 3) + 1) res.write(bytes.subarray(i, i + step));
      return void res.end();
    }
    case "sse":
      return void res.writeHead(200, { "content-type": "text/event-stream" }).end(`event: a\ndata: ${JSON.stringify(BODIES[name!])}\n\ndata: {"n":1}\n\n`);
    case "ndjson":
      return void res.writeHead(200, { "content-type": "application/x-ndjson" }).end(`${JSON.stringify(BODIES[name!])}\n{"n":1}\n`);
    default:
      res.writeHead(404).end();
  }
}

const FORMS = ["whole", "chunked", "sse", "ndjson"] as const;
const MODES: FieldNameMatching[] = ["spelling", "case", "exact"];
const gateways = new Map<FieldNameMatching, GatewayUnderTest>();
let upstream: ReturnType<typeof createServer>;

beforeAll(async () => {
  upstream = createServer(handle);
  const url = await listen(upstream);
  // /<rule set>/<form>/<body>; /u/… is unmasked.
  const decider = new TestRulesDecider((input) => {
    const set = RULE_SETS[(input.http as HttpInput).path.split("/")[1]!];
    return set ? { mask: set } : {};
  });
  for (const mode of MODES) gateways.set(mode, await startGateway({ decider, routes: [{ name: "api", prefix: "/", upstream: url }], mask_field_names: mode }));
});

afterAll(async () => {
  for (const gw of gateways.values()) await gw.close();
  if (upstream) await closeServer(upstream);
});

const get = async (mode: FieldNameMatching, path: string): Promise<{ status: number; body: string }> => {
  const res = await rawRequest(`${gateways.get(mode)!.url}${path}`, { headers: authed() });
  return { status: res.status, body: res.body.toString("utf8") };
};

describe("must-allow: bodies naming no masked field come back byte for byte", () => {
  for (const mode of MODES) {
    for (const rules of ["example", "pii"]) {
      for (const form of FORMS) {
        it(`${mode}, ${rules}, ${form}`, async () => {
          const failures: string[] = [];
          for (const name of Object.keys(CLEAR)) {
            if (SCHEMA_KEYED.has(name)) continue;
            const masked = await get(mode, `/${rules}/${form}/${name}`);
            const clear = await get(mode, `/u/${form}/${name}`);
            if (masked.status !== 200 || masked.body !== clear.body) failures.push(`${name}: ${masked.status} ${masked.body.slice(0, 400)}`);
          }
          expect(failures).toEqual([]);
        });
      }
    }
  }
});

describe("bodies naming a masked field by data are masked, whole and streamed", () => {
  for (const rules of ["example", "pii"]) {
    for (const form of FORMS) {
      for (const name of Object.keys(NAMED)) {
        it(`${rules}, ${form}, ${name}`, async () => {
          const res = await get("spelling", `/${rules}/${form}/${name}`);
          expect(res.status, res.body).toBe(200);
          for (const secret of [SSN, CARD, EMAIL, encodeURIComponent(EMAIL)]) expect(res.body).not.toContain(secret);
          // What names nothing masked beside it is left as it was.
          if (name === "hubspot") expect(res.body).toContain('"Ann"');
        });
      }
    }
  }

  it("under case matching a pair's name is compared without case, not separators; under exact as written", async () => {
    expect((await get("case", "/pii/whole/k8sEnv")).body).not.toContain(SSN);
    expect((await get("case", "/pii/whole/hubspot")).body).not.toContain(EMAIL);
    expect((await get("case", "/pii/chunked/awsTags")).body).toContain(CARD); // card-number is not card_number here
    expect((await get("exact", "/pii/chunked/k8sEnv")).body).toContain(SSN); // SSN is not ssn here
    expect((await get("exact", "/pii/whole/hubspot")).body).not.toContain(EMAIL);
  });
});

describe("rules for a field literally named name, value or key mask that member, not whole pairs", () => {
  for (const form of FORMS) {
    for (const [name, c] of Object.entries(LITERAL)) {
      it(`${name}, ${form}`, async () => {
        const res = await get("spelling", `/${c.rules}/${form}/${name}`);
        expect(res.status, res.body).toBe(200);
        const first = form === "sse" ? res.body.split("\n")[1]!.slice("data: ".length) : form === "ndjson" ? res.body.split("\n")[0]! : res.body;
        expect(JSON.parse(first)).toEqual(c.want);
      });
    }
  }
});
