import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { REDACTED } from "../mask/index.js";
import { JsonMaskStream } from "./json-stream.js";
import { ResponseMasker } from "./masker.js";

// The example policy's HTTP rules (rego/regate/http.rego).
const RULES: MaskRule[] = [
  { field: "email", strategy: "partial" },
  { field: "phone", strategy: "redact" },
  { field: "ssn", strategy: "redact" },
  { field: "card_number", strategy: "partial" },
];
const SSN = "123-45-6789";
const EMAIL = "alice@example.com";
const masker = ResponseMasker.from(RULES, Buffer.alloc(32, 1))!;

function streamed(text: string, step: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = new JsonMaskStream(masker, { holdChars: 16, maxTokenChars: 1 << 20 });
    const out: Buffer[] = [];
    s.on("data", (b: Buffer) => out.push(b)).on("end", () => resolve(Buffer.concat(out).toString())).on("error", reject);
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length; i += step) s.write(bytes.subarray(i, i + step));
    s.end();
  });
}

/** `doc` masked whole, after checking the stream (cut at every few bytes) writes the same. */
async function masked(doc: unknown): Promise<any> {
  const text = JSON.stringify(doc, null, 1);
  const whole = masker.maskJsonText(text);
  for (const step of [1, 3, 1 << 20]) expect(await streamed(text, step)).toBe(whole);
  return JSON.parse(whole);
}

const customer = {
  type: "object",
  required: ["email", "ssn"],
  properties: {
    email: { type: "string", format: "email", title: "Email" },
    ssn: { anyOf: [{ type: "string", maxLength: 11 }, { type: "null" }], title: "Ssn", readOnly: true },
    card_number: { type: "string", title: "Card Number", $ref: "#/components/schemas/Card" },
    phone: { type: ["string", "null"], nullable: true },
    address: { type: "object", properties: { email: { type: "string" } } },
  },
  title: "Customer",
};
const openapi = { openapi: "3.1.0", info: { title: "x", version: "1" }, paths: { "/c": { get: { responses: { "200": { content: { "application/json": { schema: { type: "object", properties: { ssn: { type: "string" } } } } } } } } } }, components: { schemas: { Customer: customer } } };

describe("OpenAPI documents: schemas keyed by field names are schemas", () => {
  it.each([
    ["OpenAPI 3", openapi],
    ["Swagger 2.0", { swagger: "2.0", paths: {}, definitions: { Customer: customer } }],
    ["a model named like a field", { openapi: "3.0.3", components: { schemas: { Email: { type: "string", title: "Email" } } } }],
  ])("%s passes as written", async (_name, doc) => {
    expect(await masked(doc)).toEqual(doc);
  });

  it("a field's schema: values in it get the field's mask, structure stays", async () => {
    const email = { type: "string", format: "email", title: "Email", description: `like ${EMAIL}`, example: EMAIL, examples: [EMAIL], default: EMAIL, enum: [EMAIL], const: EMAIL, pattern: "^a@", "x-sample": EMAIL, minLength: 3 };
    const ssn = { type: SSN, format: SSN, $ref: `#/components/schemas/${SSN}`, title: SSN, required: [SSN, "area"], maxLength: SSN, example: 123456789, properties: { area: { type: "string", example: SSN } } };
    const out = await masked({ ...openapi, components: { schemas: { C: { properties: { email, ssn } } } } });
    const got = JSON.stringify(out);
    expect(got).not.toContain(SSN);
    expect(got).not.toContain(EMAIL);
    expect(got).not.toContain("123456789");
    const e = out.components.schemas.C.properties.email;
    expect(e).toMatchObject({ type: "string", format: "email", title: "Email", minLength: 3 });
    expect(e.pattern).not.toBe("^a@");
    const s = out.components.schemas.C.properties.ssn;
    expect(s).toMatchObject({ type: REDACTED, format: REDACTED, $ref: REDACTED, title: REDACTED, required: [REDACTED, "area"], maxLength: REDACTED });
    expect(s.properties.area).toEqual({ type: "string", example: REDACTED });
  });

  it("a parameter named like a field keeps its schema; its example is the field's value", async () => {
    const param = { name: "email", in: "query", schema: { type: "string", format: "email" }, example: EMAIL };
    const reversed = { example: EMAIL, schema: { type: "string" }, in: "query", name: "email" };
    const out = await masked({ ...openapi, paths: { "/c": { get: { parameters: [param, reversed] } } } });
    expect(JSON.stringify(out)).not.toContain(EMAIL);
    expect(out.paths["/c"].get.parameters[0].schema).toEqual(param.schema);
    expect(out.paths["/c"].get.parameters[1].schema).toEqual(reversed.schema);
  });

  it("values elsewhere in the document are masked as anywhere", async () => {
    const doc = { ...openapi, info: { contact: { email: EMAIL } }, components: { schemas: { Customer: { ...customer, example: { ssn: SSN, email: EMAIL } } }, examples: { c: { value: { ssn: SSN } } } } };
    const got = JSON.stringify(await masked(doc));
    expect(got).not.toContain(SSN);
    expect(got).not.toContain(EMAIL);
  });

  it.each([
    ["openapi not first", { info: {}, ...openapi }],
    ["under data", { data: openapi }],
    ["openapi 2.0", { ...openapi, openapi: "2.0" }],
    ["swagger 3.0", { swagger: "3.0", definitions: { Customer: customer } }],
    ["openapi not a string", { openapi: 3, components: openapi.components }],
    ["in an array", [openapi]],
  ])("not an OpenAPI document at its root (%s): masked as before", async (_name, doc) => {
    const got = JSON.stringify(await masked(doc));
    expect(got).toContain('"type":"s***g"');
  });

  it("a schema outside the document's areas (an `x-` member) is masked as before", async () => {
    const out = await masked({ openapi: "3.1.0", "x-webhooks": { x: { post: { requestBody: { content: { "a/b": { schema: { properties: { ssn: { type: "string" } } } } } } } } } });
    expect(JSON.stringify(out)).toContain(`"ssn":{"type":${JSON.stringify(REDACTED)}}`);
  });

  it("webhooks (OpenAPI 3.1) hold schemas as paths do", async () => {
    const doc = { openapi: "3.1.0", webhooks: { x: { post: { requestBody: { content: { "a/b": { schema: { properties: { ssn: { type: "string" } } } } } } } } } };
    expect(await masked(doc)).toEqual(doc);
  });
});

describe("OpenAPI parameters named like fields: their values masked, their schemas schemas", () => {
  const schema = { anyOf: [{ type: "string" }, { type: "null" }], examples: [EMAIL], default: EMAIL, title: "Email", maxLength: 64 };
  const kept = { anyOf: [{ type: "string" }, { type: "null" }], title: "Email", maxLength: 64 };
  it.each([
    ["name first", { name: "email", in: "query", schema, example: EMAIL }],
    ["name last", { in: "query", schema, example: EMAIL, name: "email" }],
  ])("OpenAPI 3 (%s)", async (_name, p) => {
    const doc = { openapi: "3.1.0", paths: { "/c": { get: { parameters: [p, { name: "page", in: "query", schema: { type: "integer", default: 1, examples: [3] } }] } } }, components: { parameters: { email: p } } };
    const out = await masked(doc);
    for (const got of [out.paths["/c"].get.parameters[0], out.components.parameters.email]) {
      expect(got).toMatchObject({ name: "email", in: "query", schema: kept });
      expect(got.example).not.toBe(EMAIL);
      expect(got.schema.default).not.toBe(EMAIL);
      expect(got.schema.examples).toHaveLength(1);
      expect(got.schema.examples[0]).not.toBe(EMAIL);
    }
    expect(out.paths["/c"].get.parameters[1]).toEqual(doc.paths["/c"].get.parameters[1]);
  });

  it("a link's parameters are values, not parameter objects", async () => {
    const doc = { openapi: "3.1.0", paths: { "/c": { get: { responses: { "200": { description: "ok", links: { L: { operationId: "x", parameters: { email: EMAIL } } } } } } } } };
    expect(JSON.stringify(await masked(doc))).not.toContain(EMAIL);
  });

  it.each([
    ["name first", { name: "ssn", in: "query", type: "array", collectionFormat: "csv", items: { type: "string", maxLength: 11, enum: [SSN], default: SSN }, default: [SSN], "x-example": SSN }],
    ["name last", { in: "query", type: "array", collectionFormat: "csv", items: { type: "string", maxLength: 11, enum: [SSN], default: SSN }, default: [SSN], "x-example": SSN, name: "ssn" }],
  ])("Swagger 2.0 root parameters (%s)", async (_name, p) => {
    const doc = { swagger: "2.0", parameters: { ssn: p, page: { name: "page", in: "query", type: "integer", minimum: 1, default: 1 } } };
    const out = await masked(doc);
    expect(JSON.stringify(out)).not.toContain(SSN);
    expect(out.parameters.ssn).toMatchObject({ name: "ssn", in: "query", type: "array", collectionFormat: "csv", items: { type: "string", maxLength: 11 } });
    expect(out.parameters.page).toEqual(doc.parameters.page);
  });
});
