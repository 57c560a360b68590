// Must-allow: an OpenAPI document a real FastAPI app serves (openapi_upstream.py, from the pinned venv) comes
// through regate under the example policy as the app wrote it, though its schemas are keyed by masked field
// names (`properties.email`, `properties.ssn`). Values in those schemas (examples, descriptions) are still
// masked, and documents only shaped like OpenAPI below the root, or saying so late, are masked as any other:
// whole, and streamed past the whole-body cap. The bytes the agent read are the judge.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { packageRoot } from "../../src/paths.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { authed, rawRequest, startGateway, type GatewayUnderTest } from "./fixtures.js";

const SSN = "123-45-6789";
/** Padding entries that take a variant past the whole-body cap below: it is masked as it streams. */
const PAD = 2000;
const MAX_MASKED = 64 * 1024;

let child: ChildProcess;
let direct: string;
let gw: GatewayUnderTest;

beforeAll(async () => {
  const venv = "python-frameworks-venv";
  const req = join(packageRoot, "sidecar", "test", "http", "python-frameworks-requirements.txt");
  await promisify(execFile)("bash", [join(packageRoot, "scripts", "pinned-venv.sh"), req, venv, "import flask, django, fastapi, uvicorn"], { timeout: 300_000 });
  child = spawn(join(packageRoot, "build", venv, "bin", "python"), [join(packageRoot, "sidecar", "test", "http", "openapi_upstream.py")], { stdio: ["pipe", "pipe", "inherit"] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`openapi_upstream.py exited ${code}`)));
  });
  direct = `http://127.0.0.1:${(JSON.parse(first) as { port: number }).port}`;
  const store = new PolicyStore(BUNDLE);
  await store.load();
  const decider = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
  gw = await startGateway({
    routes: [{ name: "fastapi", prefix: "/fastapi", upstream: direct }],
    decider,
    limits: { max_body_bytes: 64 * 1024, max_input_body_bytes: 8 * 1024, timeout_ms: 5000, max_masked_body_bytes: MAX_MASKED },
  });
}, 320_000);

afterAll(async () => {
  await gw?.close();
  child?.stdin?.end();
});

const viaRegate = async (path: string) => {
  const res = await rawRequest(`${gw.url}/fastapi${path}`, { headers: authed() });
  return { status: res.status, body: res.body.toString("utf8"), length: res.headers["content-length"] };
};
const fromApp = async (path: string): Promise<string> => (await fetch(`${direct}${path}`)).text();

interface Doc {
  components: { schemas: Record<string, { properties: Record<string, Record<string, unknown>> }> };
  [k: string]: unknown;
}

describe("an OpenAPI document keyed by masked field names passes as the app wrote it", () => {
  it("FastAPI's /openapi.json comes back byte for byte", async () => {
    const want = await fromApp("/openapi.json");
    expect(want).toContain('"ssn":{"type":"string","title":"Ssn"}');
    expect(want).toContain('"card_number":{"type":"string","title":"Card Number"}');
    const got = await viaRegate("/openapi.json");
    expect(got.status).toBe(200);
    expect(got.body).toBe(want);
  });

  it("streamed past the whole-body cap, byte for byte too", async () => {
    const want = await fromApp(`/variant/customers?pad=${PAD}`);
    expect(want.length).toBeGreaterThan(MAX_MASKED * 2);
    const got = await viaRegate(`/variant/customers?pad=${PAD}`);
    expect(got.status).toBe(200);
    expect(got.length).toBeUndefined(); // streamed, not held whole
    expect(got.body).toBe(want);
  });

  for (const [form, path] of [
    ["whole", "/documented/openapi.json"],
    ["streamed", `/variant/plain?pad=${PAD}`],
  ] as const) {
    it(`${form}: a field's examples and description are masked, its schema stays valid`, async () => {
      const want = JSON.parse(await fromApp(path)) as Doc;
      const got = await viaRegate(path);
      expect(got.status).toBe(200);
      expect(got.body).not.toContain(SSN);
      const doc = JSON.parse(got.body) as Doc;
      const ssn = doc.components.schemas.DocumentedCustomer!.properties.ssn!;
      expect(ssn).toMatchObject({ type: "string", title: "Ssn" });
      expect(ssn.description).not.toBe(want.components.schemas.DocumentedCustomer!.properties.ssn!.description);
      expect((ssn.examples as string[]).length).toBe(1);
      // Everything else is as the app wrote it.
      Object.assign(ssn, { description: `SSN like ${SSN}`, examples: [SSN] });
      expect(doc).toEqual(want);
    });
  }
});

describe("what is not an OpenAPI schema's structure is masked, whole and streamed", () => {
  const variants = ["not-first", "under-data", "type-value", "format-value", "ref-value", "title-value"];
  for (const name of variants) {
    for (const pad of [0, PAD]) {
      it(`${name}, ${pad ? "streamed" : "whole"}`, async () => {
        const path = `/variant/${name}?pad=${pad}`;
        expect(await fromApp(path)).toContain(SSN);
        const got = await viaRegate(path);
        expect(got.status).toBe(200);
        expect(got.body).not.toContain(SSN);
        if (pad) expect(got.length).toBeUndefined();
        const doc = JSON.parse(got.body) as Doc & { data?: Doc };
        const email = (doc.data ?? doc).components.schemas.DocumentedCustomer!.properties.email;
        // Not an OpenAPI document at its root: masked as any other, its schemas' `type`s too.
        if (name === "not-first" || name === "under-data") expect(email).toEqual({ type: "s***g", title: "E***l" });
        else expect(email).toEqual({ type: "string", title: "Email" });
      });
    }
  }
});
