// Review of the charset refusal (tomcat-redteam.test.ts): a body in a charset that does not spell ASCII as
// ASCII (IBM037) hides an EBCDIC `_method` from regate's byte search, and Tomcat decodes forms in that charset,
// so Spring's HiddenHttpMethodFilter runs the DELETE it names. The refusal skipped a body marked unparsable
// (`body_parse_error`), leaving it to the policy: an EBCDIC form is one. A policy that judges the method and
// lets unparsable bodies through (an upload route, an allow-all bundle with method rules) then saw a POST,
// and the DELETE ran. The method a request runs as is regate's to establish, whatever the policy reads of
// the body: such a body is refused (400) whether or not it parsed.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { SKIP_MISSING_CLIENTS } from "../clients/run.js";
import { authed, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

const DIR = join(packageRoot, "sidecar", "test", "http", "tomcat-upstream");
const BUILT = existsSync(join(DIR, "target", "classes", "regate", "upstream", "TomcatUpstream.class"));
const SKIP = !BUILT && SKIP_MISSING_CLIENTS;

let child: ChildProcess;
let tomcat: string;
let gw: GatewayUnderTest;

beforeAll(async () => {
  if (SKIP) return;
  if (!BUILT) throw new Error("tomcat-upstream is not built: run scripts/clients-setup.sh java (make clients), or set REGATE_SKIP_CLIENTS=1 to skip it");
  child = spawn("java", ["-cp", `${join(DIR, "target", "classes")}:${join(DIR, "target", "lib", "*")}`, "regate.upstream.TomcatUpstream"], { stdio: ["ignore", "pipe", "ignore"] });
  tomcat = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`tomcat upstream exited with ${code}`)));
  });
  // A policy of method rules only: DELETE is denied, everything else (an unparsable body too) allowed.
  const decider = new TestRulesDecider((input) => ((input.http as { method?: string } | undefined)?.method === "DELETE" ? { outcome: "deny", reasons: ["DELETE requests are not allowed"] } : {}));
  gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: tomcat, credential: { type: "bearer" as const, value: UPSTREAM_SECRET } }], decider });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  child?.kill();
});

async function executed(): Promise<{ method: string }[]> {
  return (await (await fetch(`${tomcat}/_executed`)).json()) as { method: string }[];
}

async function send(base: string, path: string, headers: Record<string, string>, body: Buffer) {
  await executed();
  const url = new URL(base);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ hostname: url.hostname, port: url.port, method: "POST", path, headers, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
  return { status, executed: await executed() };
}

/** IBM037 bytes of the few ASCII characters used below. */
function ebcdic(text: string): Buffer {
  const table: Record<string, number> = { _: 0x6d, m: 0x94, e: 0x85, t: 0xa3, h: 0x88, o: 0x96, d: 0x84, D: 0xc4, E: 0xc5, L: 0xd3, T: 0xe3 };
  return Buffer.from([...text].map((c) => table[c]!));
}

describe.skipIf(SKIP)("an EBCDIC form under a policy that lets unparsable bodies through", () => {
  const headers = { "content-type": "application/x-www-form-urlencoded; charset=IBM037" };
  const body = Buffer.concat([ebcdic("_method"), Buffer.from("="), ebcdic("DELETE")]);

  it("straight to Tomcat, Spring runs a DELETE", async () => {
    expect((await send(tomcat, "/customers/1", headers, body)).executed).toMatchObject([{ method: "DELETE" }]);
  });

  it("through regate it is refused and nothing runs", async () => {
    const r = await send(gw.url, "/customers/1", authed(headers), body);
    expect(r.executed).toEqual([]);
    expect(r.status).toBe(400);
  });

  it("must stay allowed: a UTF-8 form, and a Latin-1 one", async () => {
    for (const charset of ["utf-8", "ISO-8859-1"]) {
      const r = await send(gw.url, "/customers/1", authed({ "content-type": `application/x-www-form-urlencoded; charset=${charset}` }), Buffer.from("amount=5"));
      expect(r.status).toBe(200);
      expect(r.executed).toMatchObject([{ method: "POST" }]);
    }
  });
});
