// Third attacker pass on the SIEM export: what reached the collector or the OCSF stream, byte for byte.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { gunzipSync } from "node:zlib";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { BatchUploader, createExporters, MAX_QUERY_CHARS } from "../../src/export/index.js";
import { touchesSubject } from "../../src/export/masked-subjects.js";
import { pgEvent } from "../../src/export/test-events.js";

const SECRET = "rt3-held-secret-9f4c2a71";
const silent = pino({ level: "silent" });

function ocsfToStdout(): { record: (sql: string, n: number) => void; text: () => Promise<string> } {
  const cfg = loadConfig({ text: "export: {ocsf: {enabled: true}}", env: {} });
  const out = new PassThrough();
  let text = "";
  out.on("data", (c: Buffer) => (text += c.toString("utf8")));
  const ex = createExporters(cfg.export, { log: silent, bundle_name: "regate", labels: {}, product_version: "t", secrets: [SECRET], stdout: out });
  return {
    record: (sql, n) => ex.sinks[0]!.record(pgEvent("deny", "select", sql, n)),
    text: async () => {
      await new Promise((r) => setTimeout(r, 20));
      return text;
    },
  };
}

describe("a held secret cut in two by the query_string cap", () => {
  // The agent pads its statement so the cap falls inside the secret: the scrubber, run on the finished line,
  // then sees only a prefix, which is no form of the secret. One statement per offset spells it out in full.
  it.each([1, 6, 12, SECRET.length - 1])("%i characters of it before the cap: none of it reaches the SIEM", async (before) => {
    const sink = ocsfToStdout();
    // A tail after it: the statement is still over the cap once the secret is replaced.
    const sql = `SELECT '${"x".repeat(MAX_QUERY_CHARS - before - 8)}${SECRET}', '${"y".repeat(200)}'`;
    expect(sql.indexOf(SECRET) + before).toBe(MAX_QUERY_CHARS);
    sink.record(sql, 1);
    const line = JSON.parse((await sink.text()).trim()) as { query_info: { query_string: string }; unmapped: { regate: { query_truncated?: boolean } } };
    expect(line.unmapped.regate.query_truncated).toBe(true);
    expect(line.query_info.query_string.includes(`x${SECRET.slice(0, before)}`)).toBe(false);
    expect(line.query_info.query_string.length).toBeLessThanOrEqual(MAX_QUERY_CHARS);
  });

  it("its base64 and hex forms are not cut into a prefix either", async () => {
    for (const form of [Buffer.from(SECRET).toString("base64"), Buffer.from(SECRET).toString("hex")]) {
      const sink = ocsfToStdout();
      const before = form.length - 3;
      sink.record(`SELECT '${"x".repeat(MAX_QUERY_CHARS - before - 8)}${form}', '${"y".repeat(200)}'`, 2);
      const line = JSON.parse((await sink.text()).trim()) as { query_info: { query_string: string } };
      expect(line.query_info.query_string.includes(form.slice(0, before))).toBe(false);
    }
  });
});

describe("a statement the policy kept out of the log, in the lifecycle events that follow it", () => {
  // system.log.mask erased the statement's text from its decision; the budget cut, kill or lock that followed
  // carried the text as the statement ran, past the mask, to the SIEM.
  const HIDDEN = "SELECT salary FROM hr.payroll WHERE ssn = '078-05-1120'";
  const lines = async (hidden: boolean, other = false) => {
    const cfg = loadConfig({ text: "export: {ocsf: {enabled: true}}", env: {} });
    const out = new PassThrough();
    let text = "";
    out.on("data", (c: Buffer) => (text += c.toString("utf8")));
    const ex = createExporters(cfg.export, { log: silent, bundle_name: "regate", labels: {}, product_version: "t", stdout: out });
    const e = pgEvent("allow", "select", hidden ? "" : HIDDEN, 7);
    if (hidden) Object.assign(e, { erased: ["/input/postgres/statements/0/sql"] });
    if (other) Object.assign(e.input.session!, { id: "s-other" });
    ex.sinks[0]!.record(e);
    const base = { time: "2026-01-01T00:00:01.000Z", path: "postgres" as const, session_id: "s-1", principal: { subject: "agent-7" }, target: "crm-db", subject: HIDDEN };
    ex.lifecycle({ ...base, kind: "budget_cut", decision_id: e.decision.decision_id, reason: "rows" });
    // A kill names no decision: the session it ends had one whose text was hidden.
    ex.lifecycle({ ...base, kind: "session_killed", actor: "responder", reason: "incident" });
    await new Promise((r) => setTimeout(r, 20));
    return text.trim().split("\n").map((l) => JSON.parse(l) as { activity_name: string; query_info?: { query_string: string } });
  };

  it("erased by the policy: neither the budget cut nor the kill carries it", async () => {
    const [decision, cut, kill] = await lines(true);
    expect(decision!.query_info?.query_string).toBe("");
    expect(cut!.query_info?.query_string).toBe("****");
    expect(kill!.query_info?.query_string).toBe("****");
  });

  it("hidden in another session: the cut that names its decision is withheld, a kill elsewhere is not", async () => {
    const [, cut, kill] = await lines(true, true);
    expect(cut!.query_info?.query_string).toBe("****");
    expect(kill!.query_info?.query_string).toBe(HIDDEN);
    // Must-allow: nothing hidden, and the lifecycle events keep the statement the decision showed.
    const shown = await lines(false);
    expect(shown.map((l) => l.query_info?.query_string)).toEqual([HIDDEN, HIDDEN, HIDDEN]);
  });
});

describe("which log-mask paths hide a lifecycle event's subject", () => {
  it.each([
    ["/input", true],
    ["/input/postgres", true],
    ["/input/postgres/statements", true],
    ["/input/postgres/statements/3/sql", true],
    ["/input/http", true],
    ["/input/http/path", true],
    ["/input/http/query", true],
    ["/input/postgres/statements/0/parameters", false],
    ["/input/http/headers/authorization", false],
    ["/input/http/body", false],
    ["/input/session/principal", false],
    ["/result/reasons", false],
  ])("%s: %s", (path, hides) => expect(touchesSubject(path)).toBe(hides));
});
