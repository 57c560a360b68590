// Red team with Node's own frameworks behind regate (Express 5 here; Fastify's default serializer writes the
// same JSON): what their serializers make of bytes. res.json of a Buffer (a file read without an encoding, a
// bytea column from node-postgres) sends {"type":"Buffer","data":[...]}, of a Uint8Array {"0":...,"1":...}:
// text an agent decodes in one line, which masks looking for keys, detectors looking at strings and the
// credential scrub looking for its spellings did not see. (Request-side probes of Express 5 with method-override
// and qs, and of Fastify 5's find-my-way routing, found nothing judged otherwise than the framework ran it.)

import { createRequire } from "node:module";
import { createServer, type RequestListener } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACTED } from "../../src/mask/index.js";
import { authed, closeServer, listen, MASKED, maskingGateway, startGateway, TestRulesDecider, UPSTREAM_SECRET } from "./fixtures.js";

interface ExpressResponse {
  json(v: unknown): void;
}
interface ExpressApp extends RequestListener {
  get(path: string, h: (req: unknown, res: ExpressResponse) => void): void;
}
const express = createRequire(import.meta.url)("express") as () => ExpressApp;

const { ssn: SSN, email: EMAIL } = MASKED;
const CUSTOMER = { id: 1, email: EMAIL, ssn: SSN };
const NOTE = `write to ${EMAIL}, ssn ${SSN}`;
/** Bytes that are not UTF-8 (a PNG's signature) around text: each byte still reads as one character. */
const BINARY_WITH_TEXT = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe]), Buffer.from(` ${EMAIL} `), Buffer.from([0xc3, 0x28])]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52]);

function api(): ExpressApp {
  const app = express();
  const doc = Buffer.from(JSON.stringify(CUSTOMER));
  for (const m of ["f", "d"]) {
    app.get(`/${m}/file`, (_req, res) => res.json({ name: "customer.json", content: doc }));
    app.get(`/${m}/typed-array`, (_req, res) => res.json({ name: "customer.json", content: new Uint8Array(doc) }));
    app.get(`/${m}/bytes`, (_req, res) => res.json({ content: [...doc] }));
    app.get(`/${m}/note`, (_req, res) => res.json({ content: Buffer.from(NOTE) }));
    app.get(`/${m}/binary-text`, (_req, res) => res.json({ content: BINARY_WITH_TEXT }));
    app.get(`/${m}/png`, (_req, res) => res.json({ name: "logo.png", content: PNG }));
    app.get(`/${m}/numbers`, (_req, res) => res.json({ counts: [10, 20, 30, 40, 50], sizes: { "0": 1, "1": 2, "2": 3, "3": 4 }, big: [1, 2, 300, 4], small: [7, 8] }));
    // Written in pieces, without a length (a streamed export): masked as it streams.
    app.get(`/${m}/streamed`, (_req, res) => {
      const w = res as unknown as { type(t: string): void; write(s: string): void; end(s: string): void };
      const text = JSON.stringify({ items: [{ name: "a.json", content: doc }, { name: "b.txt", content: new Uint8Array(Buffer.from(NOTE)) }], counts: [1, 2, 3, 4, 300] });
      w.type("json");
      for (let i = 0; i < text.length; i += 7) w.write(text.slice(i, i + 7));
      w.end("");
    });
    app.get(`/${m}/plain-bytes`, (_req, res) => res.json({ content: Buffer.from("nothing to hide here") }));
  }
  return app;
}

let server: Awaited<ReturnType<typeof maskingGateway>>;
beforeAll(async () => {
  server = await maskingGateway(api());
});
afterAll(() => server.close());

async function get(path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${server.gw.url}${path}`, { headers: authed() });
  return { status: res.status, text: await res.text() };
}

/** What an agent reads out of byte values, as Buffer.from(json.data) or Uint8Array.from(Object.values(..)) do. */
function decoded(value: unknown, encoding: BufferEncoding = "utf8"): string {
  const v = value as { type?: string; data?: number[] } | number[] | Record<string, number>;
  const bytes = Array.isArray(v) ? v : v.type === "Buffer" ? v.data! : Object.values(v as Record<string, number>);
  return Buffer.from(bytes).toString(encoding);
}

describe("text carried as byte values is masked (res.json of a Buffer, a Uint8Array, an array of bytes)", () => {
  it.each([["f", "field rules"], ["d", "detectors"]])("a JSON document in them, under %s (%s): masked inside, still bytes", async (m) => {
    for (const shape of ["file", "typed-array", "bytes"]) {
      const r = await get(`/${m}/${shape}`);
      expect(r.status).toBe(200);
      const content = (JSON.parse(r.text) as { content: unknown }).content;
      expect(JSON.parse(decoded(content))).toEqual({ ...CUSTOMER, email: REDACTED, ssn: REDACTED });
      if (shape === "file") expect(content).toMatchObject({ type: "Buffer" });
    }
  });

  it.each(["f", "d"])("in a response masked as it streams (/%s/)", async (m) => {
    const r = await get(`/${m}/streamed`);
    expect(r.status).toBe(200);
    const doc = JSON.parse(r.text) as { items: { content: unknown }[]; counts: number[] };
    expect(JSON.parse(decoded(doc.items[0]!.content))).toEqual({ ...CUSTOMER, email: REDACTED, ssn: REDACTED });
    expect(doc.items[0]!.content).toMatchObject({ type: "Buffer" });
    // Field rules find no field in prose; detectors do.
    expect(decoded(doc.items[1]!.content)).toBe(m === "d" ? `write to ${REDACTED}, ssn ${REDACTED}` : NOTE);
    expect(doc.counts).toEqual([1, 2, 3, 4, 300]);
  });

  it("text in them is read by the detectors", async () => {
    const r = await get("/d/note");
    expect(r.status).toBe(200);
    expect(decoded((JSON.parse(r.text) as { content: unknown }).content)).toBe(`write to ${REDACTED}, ssn ${REDACTED}`);
  });

  it("bytes that are not UTF-8 are read one character a byte, and keep their other bytes", async () => {
    const r = await get("/d/binary-text");
    const out = Buffer.from(decoded((JSON.parse(r.text) as { content: unknown }).content, "latin1"), "latin1");
    expect(out.toString("latin1")).not.toContain(EMAIL);
    expect(out).toEqual(Buffer.from(BINARY_WITH_TEXT.toString("latin1").replace(EMAIL, REDACTED), "latin1"));
  });
});

describe("must-allow: byte values with nothing to mask, and numbers, pass as they came", () => {
  it.each(["png", "numbers", "plain-bytes"])("%s", async (name) => {
    for (const m of ["f", "d"]) {
      const direct = await (await fetch(`${server.upstreamUrl}/${m}/${name}`)).text();
      const r = await get(`/${m}/${name}`);
      expect(r.status).toBe(200);
      expect(r.text).toBe(direct);
    }
  });
});

describe("the route credential echoed as bytes (a request head or header an upstream returns as a Buffer)", () => {
  let upstream: ReturnType<typeof createServer>;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    const app = express();
    const echo = (spaces: number) => (req: unknown, res: ExpressResponse) => {
      const { headers } = req as { headers: Record<string, string> };
      res.json(JSON.parse(JSON.stringify({ seen: Buffer.from(`authorization: ${headers.authorization}`), head: [...Buffer.from(headers.authorization!)] }, null, spaces)));
    };
    app.get("/echo", echo(0));
    app.get("/echo-pretty", (req, res) => {
      const { headers } = req as { headers: Record<string, string> };
      (res as unknown as { type(t: string): void; send(s: string): void }).type("json");
      (res as unknown as { send(s: string): void }).send(JSON.stringify({ seen: Buffer.from(String(headers.authorization)) }, null, 2));
    });
    app.get("/plain", (_req, res) => res.json({ data: Buffer.from("an ordinary file"), counts: [66, 101, 97, 114] }));
    upstream = createServer(app);
    const url = await listen(upstream);
    gw = await startGateway({ decider: new TestRulesDecider(() => ({})), routes: [{ name: "api", prefix: "/", upstream: url, credential: { type: "bearer", value: UPSTREAM_SECRET } }] });
  });
  afterAll(async () => {
    await gw.close();
    await closeServer(upstream);
  });

  /** Every run of byte values in the text, as an agent decodes them. */
  const decodedRuns = (text: string): string => [...text.matchAll(/\d+(?:\s*,\s*\d+)+/g)].map((m) => Buffer.from(m[0].split(/\s*,\s*/).map(Number)).toString("latin1")).join("\n");

  it.each(["/echo", "/echo-pretty"])("%s: the agent cannot read the credential out of the bytes", async (path) => {
    const r = await fetch(`${gw.url}${path}`, { headers: authed() });
    const text = await r.text();
    expect(text).not.toContain(UPSTREAM_SECRET);
    expect(decodedRuns(text)).not.toContain(UPSTREAM_SECRET);
    expect(decodedRuns(text)).not.toContain(UPSTREAM_SECRET.slice(4));
  });

  it("must-allow: other bytes and numbers pass as they came", async () => {
    const r = await fetch(`${gw.url}/plain`, { headers: authed() });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(JSON.stringify({ data: Buffer.from("an ordinary file"), counts: [66, 101, 97, 114] }));
  });
});
