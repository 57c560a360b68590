// The example policy's bundle, built from rego/ with one more system.log.mask rule that keeps the decision's
// reasons out of the decision log, decides real inputs; the OCSF export must not carry those reasons either
// (message, status_detail, an approval's reason in the lifecycle event that follows the hold).

import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { pino } from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { OpaEventJson } from "../../src/audit/index.js";
import { loadConfig } from "../../src/config/index.js";
import { DecisionPipeline, type DecisionEvent, type PolicyInput } from "../../src/decision/index.js";
import { createExporters, type Exporters } from "../../src/export/index.js";
import { packageRoot } from "../../src/paths.js";
import { PolicyStore } from "../../src/policy/index.js";
import { CAPABILITIES, OPA } from "../policy/opa.js";

const KEEP_REASONS_OUT = `package system.log

# This deployment's deny and approval reasons name what it keeps out of logs.
mask contains "/result/deny" if count(input.result.deny) > 0

mask contains {"op": "upsert", "path": "/result/approve/reason", "value": "[reason erased by system.log.mask]"} if input.result.approve
`;

function buildBundle(): string {
  const dir = mkdtempSync(join(tmpdir(), "regate-reasons-"));
  cpSync(join(packageRoot, "rego"), join(dir, "rego"), { recursive: true });
  writeFileSync(join(dir, "rego", "system", "log", "keep_reasons_out.rego"), KEEP_REASONS_OUT);
  const out = join(dir, "bundle.tar.gz");
  execFileSync(OPA, ["build", "-t", "wasm", "-e", "regate/decision", "-e", "system/log/mask", "--capabilities", CAPABILITIES, "--ignore", "*_test.rego", "-r", "reasons", "-o", out, "rego"], { cwd: dir, stdio: "pipe" });
  return out;
}

const session = {
  id: "s-1",
  principal: { subject: "agent-7", groups: ["support"], claims: {}, auth_method: "token" },
  client: { address: "127.0.0.1", port: 5000 },
  target: "crm",
  started_at: "2026-01-01T00:00:00Z",
};

function httpInput(method: string, path: string, bodySize = 0): PolicyInput {
  return {
    version: 1,
    kind: "http",
    session,
    http: { method, scheme: "http", host: "crm.local", path, parsed_path: path.split("/").filter(Boolean), body_size: bodySize, route: { name: "crm", prefix: "/crm" } },
  } as unknown as PolicyInput;
}

let pipeline: DecisionPipeline;
let exporters: Exporters;
let ocsfText = "";
const logged: DecisionEvent[] = [];

beforeAll(async () => {
  const store = new PolicyStore(buildBundle());
  await store.load();
  const out = new PassThrough();
  out.on("data", (c: Buffer) => (ocsfText += c.toString("utf8")));
  exporters = createExporters(loadConfig({ text: "export: {ocsf: {enabled: true}}", env: {} }).export, { log: pino({ level: "silent" }), bundle_name: "regate", labels: {}, product_version: "t", stdout: out });
  const remember = { record: (e: DecisionEvent) => void logged.push(e) };
  pipeline = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [remember, ...exporters.sinks], logMask: true });
}, 120_000);

async function ocsfLines(): Promise<{ message: string; metadata: { uid: string; correlation_uid?: string }; activity_name: string }[]> {
  await new Promise((r) => setImmediate(r));
  return ocsfText
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { message: string; metadata: { uid: string; correlation_uid?: string }; activity_name: string });
}

describe("reasons the policy keeps out of the decision log", () => {
  it("a deny: the decision log has no reason, and neither has its OCSF event", async () => {
    const d = pipeline.decide(httpInput("DELETE", "/customers/1"));
    expect(d.reasons).toEqual(["DELETE requests are not allowed"]);
    const e = logged.find((x) => x.decision.decision_id === d.decision_id)!;
    const log = new OpaEventJson({ bundle_name: "regate", labels: {} }).json(e);
    expect(log).not.toContain("DELETE requests are not allowed");
    const line = (await ocsfLines()).find((l) => l.metadata.uid === d.decision_id)!;
    expect(line.message).toBe("Denied");
    expect(JSON.stringify(line)).not.toContain("DELETE requests are not allowed");
  });

  it("a hold: the OCSF event and the approval's lifecycle event carry the masked reason, not the real one", async () => {
    const d = pipeline.decide(httpInput("POST", "/refunds", 20));
    expect(d.outcome).toBe("approve");
    expect(d.reasons).toEqual(["refunds need approval"]);
    exporters.lifecycle({ kind: "approval_requested", time: "2026-01-01T00:00:01Z", path: "http", decision_id: d.decision_id, approval_id: "apr_1", session_id: "s-1", principal: { subject: "agent-7" }, target: "crm", reason: d.approve!.reason, subject: "POST /crm/refunds" });
    const lines = await ocsfLines();
    const decision = lines.find((l) => l.metadata.uid === d.decision_id)!;
    expect(decision.message).toBe("[reason erased by system.log.mask]");
    const requested = lines.find((l) => l.metadata.correlation_uid === d.decision_id)!;
    expect(requested.activity_name).toBe("Approval requested");
    expect(requested.message).toBe("Approval requested: ****");
    expect(ocsfText).not.toContain("refunds need approval");
  });

  it("an allowed request has no reasons to mask and exports as before", async () => {
    const d = pipeline.decide(httpInput("GET", "/orders/1"));
    const line = (await ocsfLines()).find((l) => l.metadata.uid === d.decision_id)!;
    expect(line.message).toBe("Allowed");
  });
});
