// Red team against real Python frameworks behind regate and the example policy: Flask (Werkzeug), Django and
// FastAPI (python_frameworks_upstream.py, from a pinned venv). Each request is first sent to the framework
// directly, to show what it executes, then through regate; the frameworks' own record is the judge.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { packageRoot } from "../../src/paths.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { authed, startGateway, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

type Framework = "flask" | "django" | "fastapi";
interface Ran {
  fw: Framework;
  route: string;
  method: string;
}

let child: ChildProcess;
let ports: Record<Framework, number>;
let gw: GatewayUnderTest;

beforeAll(async () => {
  const venv = "python-frameworks-venv";
  const req = join(packageRoot, "sidecar", "test", "http", "python-frameworks-requirements.txt");
  await promisify(execFile)("bash", [join(packageRoot, "scripts", "pinned-venv.sh"), req, venv, "import flask, django, fastapi, uvicorn"], { timeout: 300_000 });
  child = spawn(join(packageRoot, "build", venv, "bin", "python"), [join(packageRoot, "sidecar", "test", "http", "python_frameworks_upstream.py")], { stdio: ["pipe", "pipe", "inherit"] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`python_frameworks_upstream.py exited ${code}`)));
  });
  ports = JSON.parse(first) as Record<Framework, number>;
  const store = new PolicyStore(BUNDLE);
  await store.load();
  const decider = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
  const routes = (["flask", "django", "fastapi"] as const).map((name) => ({
    name,
    prefix: `/${name}`,
    upstream: `http://127.0.0.1:${ports[name]}`,
    credential: { type: "bearer" as const, value: UPSTREAM_SECRET },
  }));
  gw = await startGateway({ routes, decider });
}, 320_000);

afterAll(async () => {
  await gw?.close();
  child?.stdin?.end();
});

async function ranSoFar(): Promise<Ran[]> {
  return (await (await fetch(`http://127.0.0.1:${ports.flask}/_executed`)).json()) as Ran[];
}

/**
 * One request on its own connection, written as is (fetch sends no body on GET or HEAD), left open until the server closes it. `base` is the
 * framework's own address (path without the route prefix) or regate's.
 */
async function raw(base: string, method: string, path: string, body: string, headers: Record<string, string> = {}) {
  const before = (await ranSoFar()).length;
  const u = new URL(base);
  const head = Object.entries({ host: u.host, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), connection: "close", ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  const text = await new Promise<string>((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => s.write(`${method} ${path} HTTP/1.1\r\n${head}\r\n${body}`));
    let out = "";
    s.on("data", (d: Buffer) => (out += d.toString())).on("close", () => resolve(out)).on("error", reject);
  });
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  const ran = (await ranSoFar()).slice(before).map(({ fw, route, method }) => ({ fw, route, method }));
  return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4), ran };
}

const direct = (fw: Framework) => `http://127.0.0.1:${ports[fw]}`;

describe("a view that runs on whatever method the request line names (Django function views)", () => {
  it.each(["PUT", "PATCH", "GET", "HEAD", "OPTIONS"])("%s /refunds with a body: Django runs the refund; through regate it needs approval", async (method) => {
    const refund = '{"amount":5}';
    expect((await raw(direct("django"), method, "/refunds", refund)).ran).toEqual([{ fw: "django", route: "refund", method }]);

    const r = await raw(gw.url, method, "/django/refunds", refund, authed({}));
    expect(r.status).toBe(403);
    if (method !== "HEAD") expect(JSON.parse(r.body)).toMatchObject({ code: "APPROVAL_REQUIRED", reason: expect.stringContaining("refunds need approval") });
    expect(r.ran).toEqual([]);
  });

  it("a bodiless GET of /refunds (a listing) is allowed and runs as judged; POST still needs approval", async () => {
    const list = await raw(gw.url, "GET", "/django/refunds", "", authed({}));
    expect(list.status).toBe(200);
    expect(list.ran).toEqual([{ fw: "django", route: "refund", method: "GET" }]);
    const post = await raw(gw.url, "POST", "/flask/refunds", '{"amount":5}', authed({}));
    expect(post.status).toBe(403);
    expect(post.ran).toEqual([]);
  });

  it("reads of other paths, with or without a body, pass as before", async () => {
    for (const fw of ["flask", "django", "fastapi"] as const) {
      const r = await raw(gw.url, "GET", `/${fw}/items/1`, "", authed({}));
      expect(r.status).toBe(200);
      expect(r.ran).toEqual([{ fw, route: "item", method: "GET" }]);
      expect(r.body).toContain("***@example.com");
    }
    expect((await raw(gw.url, "GET", "/flask/items/1", '{"fields":["id"]}', authed({}))).status).toBe(200);
  });
});

describe("JSON as Python writes it: NaN for a float it cannot hold (Flask's jsonify, Django's JsonResponse, json.dumps)", () => {
  it("a stored document in a string field: its ssn and phone are masked like any embedded JSON", async () => {
    const upstream = await raw(direct("flask"), "GET", "/records/7", "");
    expect(upstream.body).toContain("123-45-6789");

    const r = await raw(gw.url, "GET", "/flask/records/7", "", authed({}));
    expect(r.status).toBe(200);
    expect(r.ran).toEqual([{ fw: "flask", route: "record", method: "GET" }]);
    expect(r.body).not.toContain("123-45-6789");
    expect(r.body).not.toContain("555 0100");
    const payload = JSON.parse((JSON.parse(r.body) as { payload: string }).payload.replace("NaN", "null")) as Record<string, unknown>;
    expect(payload).toEqual({ ssn: "****", phone: "****", score: null });
    expect(r.body).toContain("NaN");
  });

  it("a body with NaN is masked and reaches the agent, its NaN as written, instead of being refused", async () => {
    const r = await raw(gw.url, "GET", "/flask/items/1?nan=1", "", authed({}));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.replace("NaN", "null"))).toEqual({ id: "1", email: "***@example.com", ssn: "****", score: null });
    expect(r.body).toContain('"score":NaN');
  });
});

describe("the same JSON streamed (a Flask generator view, chunked)", () => {
  it.each([
    ["NaN only in the stored documents", ""],
    ["-Infinity in the listing too", "?inf"],
  ])("%s: every stored document is masked and the listing reaches the agent", async (_name, query) => {
    const upstream = await raw(direct("flask"), "GET", `/records${query}`, "");
    expect(upstream.body).toContain("123-45-6781");

    const r = await raw(gw.url, "GET", `/flask/records${query}`, "", authed({}));
    expect(r.status).toBe(200);
    expect(r.ran).toEqual([{ fw: "flask", route: "records", method: "GET" }]);
    expect(r.body).not.toMatch(/123-45-678|555 0100/);
    expect(r.body).toContain("NaN");
  });
});
