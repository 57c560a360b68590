// OpenAPI documents (openapi_examples_upstream.py: a real FastAPI app's own /openapi.json, and a Swagger 2.0
// document written out by hand) through a real regate under the example policy. Where a parameter or property
// is named like a masked field, every value it gives (`example`, `examples`, `default`, `const`, `enum`, a
// parameter's schema's too, whether its `name` comes before its `schema` or after) is masked as that field;
// its structure (`type`, `title`, `format`, numeric bounds) and every other member pass as the app wrote them.
// Schemas under `webhooks` and under Swagger 2.0's root `parameters` and `responses` are schemas, not records.
// Whole and streamed past the whole-body cap; a policy with detectors still reads what structure keeps.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { packageRoot } from "../../src/paths.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { authed, rawRequest, startGateway, TestRulesDecider, type GatewayUnderTest } from "./fixtures.js";

const EMAIL = "alice@example.com";
const SSN = "123-45-6789";
const CARD = "4111111111111111";
const PHONE = "+1 555 0100";
const PAD = 2000;
const MAX_MASKED = 64 * 1024;
const LIMITS = { max_body_bytes: 64 * 1024, max_input_body_bytes: 8 * 1024, timeout_ms: 5000, max_masked_body_bytes: MAX_MASKED };

let child: ChildProcess;
let direct: string;
/** Under the example policy (the compiled Rego bundle): field rules only. */
let gw: GatewayUnderTest;
/** Field rules and the card, email and SSN detectors. */
let detecting: GatewayUnderTest;

beforeAll(async () => {
  const venv = "python-frameworks-venv";
  const req = join(packageRoot, "sidecar", "test", "http", "python-frameworks-requirements.txt");
  await promisify(execFile)("bash", [join(packageRoot, "scripts", "pinned-venv.sh"), req, venv, "import flask, django, fastapi, uvicorn"], { timeout: 300_000 });
  child = spawn(join(packageRoot, "build", venv, "bin", "python"), [join(packageRoot, "sidecar", "test", "http", "openapi_examples_upstream.py")], { stdio: ["pipe", "pipe", "inherit"] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`openapi_examples_upstream.py exited ${code}`)));
  });
  direct = `http://127.0.0.1:${(JSON.parse(first) as { port: number }).port}`;
  const store = new PolicyStore(BUNDLE);
  await store.load();
  const decider = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
  const routes = [{ name: "fastapi", prefix: "/fastapi", upstream: direct }];
  gw = await startGateway({ routes, decider, limits: LIMITS });
  const rules = new TestRulesDecider(() => ({
    mask: [
      { field: "email", strategy: "redact" },
      { field: "ssn", strategy: "redact" },
      { field: "card_number", strategy: "redact" },
      { detector: "card", strategy: "redact" },
      { detector: "email", strategy: "redact" },
      { detector: "ssn", strategy: "redact" },
    ],
  }));
  detecting = await startGateway({ routes, decider: rules, limits: LIMITS });
}, 320_000);

afterAll(async () => {
  await gw?.close();
  await detecting?.close();
  child?.stdin?.end();
});

const via = async (g: GatewayUnderTest, path: string) => {
  const res = await rawRequest(`${g.url}/fastapi${path}`, { headers: authed() });
  return { status: res.status, body: res.body.toString("utf8"), length: res.headers["content-length"] };
};
const fromApp = async (path: string): Promise<string> => (await fetch(`${direct}${path}`)).text();

type Json = unknown;
type Doc = Record<string, Json>;
type Where = readonly (string | number)[];

function at(doc: Json, where: Where): Json {
  let v = doc;
  for (const k of where) v = (v as Record<string | number, Json>)[k];
  return v;
}

function put(doc: Json, where: Where, value: Json): void {
  const parent = at(doc, where.slice(0, -1)) as Record<string | number, Json>;
  parent[where.at(-1)!] = value;
}

/** The parameter of `params` named `name`, wherever its `name` member is written. */
const param = (doc: Json, op: Where, name: string): Where => {
  const list = at(doc, [...op, "parameters"]) as { name: string }[];
  const i = list.findIndex((p) => p.name === name);
  expect(i).toBeGreaterThanOrEqual(0);
  return [...op, "parameters", i];
};

/** Every leaf under `where` (a scalar: itself). */
function leaves(v: Json, where: Where = []): Where[] {
  if (v === null || typeof v !== "object") return [where];
  return Object.entries(v as object).flatMap(([k, x]) => leaves(x, [...where, Array.isArray(v) ? Number(k) : k]));
}

/**
 * `got` is `want` but at `masked`, where every leaf differs from what the app wrote: put back, the two are
 * equal (every other member, schema keywords included, as written).
 */
function expectMaskedOnly(got: Doc, want: Doc, masked: Where[]): void {
  for (const where of masked) {
    const original = at(want, where);
    expect(original, where.join(".")).toBeDefined();
    for (const leaf of leaves(original)) {
      expect(at(at(got, where), leaf), [...where, ...leaf].join(".")).not.toEqual(at(original, leaf));
    }
    put(got, where, structuredClone(original));
  }
  expect(got).toEqual(want);
}

const GET = ["paths", "/customers/{name}", "get"] as const;
const HOOK = ["webhooks", "customer-created", "post"] as const;
const LIMITS_PROPS = ["components", "schemas", "Limits", "properties"] as const;

/** What the example policy masks in FastAPI's document (its field rules: email, phone, ssn, card_number). */
function fastApiMasked(doc: Json): Where[] {
  const email = param(doc, GET, "email");
  const ssn = param(doc, GET, "ssn");
  const card = param(doc, GET, "card_number");
  const hook = param(doc, HOOK, "ssn");
  return [
    [...email, "schema", "examples"],
    [...email, "schema", "default"],
    [...email, "examples"],
    [...ssn, "schema", "examples"],
    [...ssn, "schema", "default"],
    [...card, "schema", "examples"],
    [...card, "schema", "default"],
    ...["email", "ssn", "phone", "card_number"].map((f) => ["paths", "/customers", "post", "requestBody", "content", "application/json", "schema", "examples", 0, f]),
    [...LIMITS_PROPS, "email", "default"],
    [...LIMITS_PROPS, "email", "examples"],
    [...LIMITS_PROPS, "ssn", "const"],
    [...LIMITS_PROPS, "phone", "enum"],
    [...LIMITS_PROPS, "phone", "default"],
    [...LIMITS_PROPS, "card_number", "default"],
    ["components", "schemas", "Body_contact_contact_post", "properties", "email", "examples"],
    [...hook, "schema", "examples"],
    [...hook, "schema", "default"],
    [...HOOK, "requestBody", "content", "application/json", "schema", "properties", "ssn", "examples"],
  ];
}

const SW_CUSTOMER = ["definitions", "Customer", "properties"] as const;

/** What the example policy masks in the Swagger 2.0 document. */
function swaggerMasked(): Where[] {
  return [
    ["parameters", "email", "default"],
    ["parameters", "email", "x-example"],
    ["parameters", "ssns", "items", "enum"],
    ["parameters", "ssns", "items", "default"],
    ["responses", "Customer", "examples", "application/json", "email"],
    [...SW_CUSTOMER, "email", "example"],
    [...SW_CUSTOMER, "card_number", "default"],
  ];
}

const forms = [
  ["whole", 0],
  ["streamed", PAD],
] as const;

describe("an OpenAPI document's field-named parameters and properties: their values masked, their structure as written", () => {
  for (const [variant, masked] of [
    ["fastapi", fastApiMasked],
    ["fastapi-name-last", fastApiMasked],
    ["swagger", swaggerMasked],
    ["swagger-name-last", swaggerMasked],
  ] as const) {
    for (const [form, pad] of forms) {
      it(`${variant}, ${form}`, async () => {
        const path = `/variant/${variant}?pad=${pad}`;
        const text = await fromApp(path);
        const want = JSON.parse(text) as Doc;
        for (const v of [EMAIL, SSN, CARD]) expect(text).toContain(v);
        const got = await via(gw, path);
        expect(got.status).toBe(200);
        if (pad) expect(got.length).toBeUndefined(); // streamed, not held whole
        for (const v of [EMAIL, SSN, CARD, PHONE]) expect(got.body).not.toContain(v);
        expectMaskedOnly(JSON.parse(got.body) as Doc, want, masked(want));
      });
    }
  }

  it("FastAPI's /openapi.json: the schema keywords of field-named parameters and properties pass byte for byte", async () => {
    const want = await fromApp("/openapi.json");
    const got = await via(gw, "/openapi.json");
    expect(got.status).toBe(200);
    for (const kept of [
      '"schema":{"type":"string","minLength":16,"maxLength":19,"examples":[',
      '"title":"Card Number"}}',
      '"card_number":{"type":"integer","multipleOf":1.0,"maximum":4999999999999999.0,"minimum":4000000000000000.0,"title":"Card Number","default":',
      '"ssn":{"type":"string","const":',
      '"maxLength":11,"minLength":11,"title":"Ssn"}',
      // A webhook's payload schema (OpenAPI 3.1 `webhooks`).
      '"email":{"type":"string","format":"email","title":"Email"}',
      '{"name":"page","in":"query","required":false,"schema":{"type":"integer","maximum":100,"minimum":1,"examples":[3],"default":1,"title":"Page"}}',
    ]) {
      expect(want).toContain(kept);
      expect(got.body).toContain(kept);
    }
    expect(want).toContain(CARD);
    expect(got.body).not.toContain(CARD);
  });

  it("the Swagger 2.0 document, unchanged where nothing is a field's value", async () => {
    const want = await fromApp("/swagger.json");
    const got = await via(gw, "/swagger.json");
    expect(got.status).toBe(200);
    for (const kept of [
      '"parameters": {"email": {"name": "email", "in": "query", "type": "string", "format": "email", "default": ',
      '"page": {"name": "page", "in": "query", "type": "integer", "minimum": 1, "maximum": 100, "default": 1}',
      '"items": {"type": "string", "maxLength": 11, "enum": [',
      '"schema": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}, "name": {"type": "string", "title": "Name"}}}',
      '"card_number": {"type": "integer", "minimum": 4000000000000000, "default": ',
    ]) {
      expect(want).toContain(kept);
      expect(got.body).toContain(kept);
    }
  });
});

describe("detectors still read what a field's schema keeps", () => {
  for (const [form, pad] of forms) {
    it(`a card number as a numeric bound, an address in a parameter's description, ${form}`, async () => {
      const path = `/variant/swagger-detect?pad=${pad}`;
      const want = JSON.parse(await fromApp(path)) as Doc;
      const minimum = [...SW_CUSTOMER, "card_number", "minimum"];
      expect(at(want, minimum)).toBe(Number(CARD));
      // Under field rules only, a numeric bound is structure: kept.
      const plain = await via(gw, path);
      expect(at(JSON.parse(plain.body), minimum)).toBe(Number(CARD));
      expect(plain.body).toContain(`"description": "ask ${EMAIL}"`);
      const got = await via(detecting, path);
      expect(got.status).toBe(200);
      if (pad) expect(got.length).toBeUndefined();
      for (const v of [EMAIL, SSN, CARD]) expect(got.body).not.toContain(v);
      const doc = JSON.parse(got.body) as Doc;
      expect(at(doc, [...SW_CUSTOMER, "card_number", "type"])).toBe("integer");
      expect(at(doc, ["parameters", "page", "description"])).toBe("ask ****");
    });
  }
});
