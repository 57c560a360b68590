// What a recording keeps of an HTTP request follows the rule the response masks follow for a field's name
// (http/field-names.ts): under the example policy's `card_number` and `ssn` rules, a body, query or MCP
// arguments that spell the name `cardNumber`, `Card Number`, `card-number`, `ＣＡＲＤ＿ＮＵＭＢＥＲ` or
// `s\u200bsn` are recorded as `****`, as are credentials under spelled names (`Api Key`) and dotted names whose
// last parts name the field (`customer.ssn`, `user.email`). Must-allow: `session`, `card_numbers`, `ssn_count`,
// `email.verified` and `app.kubernetes.io/name` are kept as sent. A real session through regate, read back with
// `regate recordings replay`, and every file of the recording searched. Values here have no detectable shape:
// only the name can find them.

import { Agent, request } from "node:http";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { recordingsCommand } from "../../src/cli/recordings.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import { AGENT_TOKEN, startUpstream, UPSTREAM_SECRET, type Upstream } from "../http/fixtures.js";
import { BUNDLE } from "../support/regate.js";
import { outputDir, writeSecrets } from "../support/test-output.js";

/** Under names the example policy's field rules give, spelled otherwise. */
const MASKED: Record<string, string> = {
  cardNumber: "leak-camel-7101",
  CardNumber: "leak-pascal-7102",
  "card-number": "leak-kebab-7103",
  "Card Number": "leak-spaced-7104",
  "card.number": "leak-dotted-7105",
  "ＣＡＲＤ＿ＮＵＭＢＥＲ": "leak-fullwidth-7106",
  "s\u200bsn": "leak-invisible-7107",
  SSN: "leak-upper-7108",
  "Api Key": "leak-credential-7109",
  "Pass\u200bword": "leak-credential-7110",
  // A dotted name is a path written flat (OpenTelemetry attributes, Elasticsearch fields): its last parts name the field.
  "customer.ssn": "leak-dotted-path-7114",
  "user.email": "leak-dotted-path-7115",
  "billing.card.number": "leak-dotted-path-7116",
};
const QUERY_SECRET = "leak-query-7111";
const MCP_SECRET = "leak-mcp-7112";
const MCP_CREDENTIAL = "leak-mcp-credential-7113";
const QUERY_DOTTED = "leak-query-dotted-7117";
const MCP_DOTTED = "leak-mcp-dotted-7118";
/** Names that are not the rules' names: kept as sent. */
const KEPT: Record<string, string> = { session: "keep-session-8101", card_numbers: "keep-cardnumbers-8102", ssn_count: "keep-ssncount-8103", cardholder: "keep-cardholder-8104", "email.verified": "keep-emailverified-8105", "app.kubernetes.io/name": "keep-k8s-8106", "ssn.last4": "keep-ssnlast4-8107" };

const dir = join(outputDir("suite", "recording-field-spelling"), "recordings");
let upstream: Upstream;
let app: App;
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<number> {
  const payload = JSON.stringify(body);
  return new Promise<number>((resolve, reject) => {
    const req = request(
      `http://127.0.0.1:${app.ports.http}/api${path}`,
      { method: "POST", agent: keepAlive, headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)), ...headers } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function cli(...args: string[]): string {
  const out: string[] = [];
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
  try {
    recordingsCommand(args, {});
  } finally {
    o.mockRestore();
  }
  return out.join("");
}

type Row = { session: string; application_name?: string; end_reason?: string };
const listed = (): Row[] => JSON.parse(cli("list", "--dir", dir, "--json")) as Row[];

beforeAll(async () => {
  upstream = await startUpstream();
  const config = loadConfig({
    text: stringify({
      policy: { bundle: BUNDLE, watch_interval_ms: 0 },
      agents: { tokens: [{ subject: "support-bot", groups: ["support"], token: { value: AGENT_TOKEN } }] },
      postgres: { enabled: false },
      http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: upstream.url, credential: { type: "bearer", secret: { value: UPSTREAM_SECRET } } }] },
      admin: { enabled: false },
      recording: { enabled: true, dir, http_idle_seconds: 1 },
    }),
    env: {},
  });
  app = await startApp({ config, log: createLogger({ level: "error" }) });
  writeSecrets(join(dir, ".."), [AGENT_TOKEN, UPSTREAM_SECRET]);

  expect(await post(`/orders?cardNumber=${QUERY_SECRET}&user.email=${QUERY_DOTTED}&page=2`, { entries: Object.entries(MASKED).map(([k, v]) => ({ [k]: v })), kept: KEPT, items: [{ sku: "A-1", qty: 2 }] })).toBe(200);
  const rpc = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "charge_card", arguments: { "Card-Number": MCP_SECRET, accessToken: MCP_CREDENTIAL, "customer.ssn": MCP_DOTTED, session: KEPT["session"] } } };
  await post("/mcp", rpc, { "mcp-session-id": "mcp-session-field-spelling" });
  await vi.waitFor(() => expect(listed().filter((r) => r.end_reason === "idle")).toHaveLength(2), { timeout: 15_000, interval: 200 });
}, 60_000);

afterAll(async () => {
  keepAlive.destroy();
  await app?.close();
  await upstream?.close();
});

function requests(mcp: boolean): Record<string, any>[] {
  const row = listed().find((r) => (r.application_name?.startsWith("mcp-session ") ?? false) === mcp)!;
  const records = JSON.parse(cli("replay", row.session, "--dir", dir, "--json")) as Record<string, any>[];
  return records.filter((r) => r["type"] === "request").map((r) => r["request"]);
}

describe("a recording keeps no value under a masked field's name, however the name is spelled", () => {
  it("body and query: spelled names are recorded as ****, other names as sent", () => {
    const [req] = requests(false);
    // One object each: a body with two keys that differ only in case is refused (body.ts), not recorded.
    expect(req!.body.entries).toEqual(Object.keys(MASKED).map((k) => ({ [k]: "****" })));
    expect(req!.body.kept).toEqual(KEPT);
    expect(req!.body.items).toEqual([{ sku: "A-1", qty: 2 }]);
    expect(req!.query).toEqual({ cardNumber: "****", "user.email": "****", page: ["2"] });
  });

  it("MCP arguments: the same", () => {
    const [req] = requests(true);
    expect(req!.mcp.arguments).toEqual({ "Card-Number": "****", accessToken: "****", "customer.ssn": "****", session: KEPT["session"] });
  });

  it("no file of the recording holds any of the values", () => {
    const all = readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
    for (const v of [...Object.values(MASKED), QUERY_SECRET, MCP_SECRET, MCP_CREDENTIAL, QUERY_DOTTED, MCP_DOTTED]) expect(all).not.toContain(v);
    for (const v of Object.values(KEPT)) expect(all).toContain(v);
  });
});
