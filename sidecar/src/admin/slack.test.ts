import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/index.js";
import { verify } from "./slack.js";

const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const NOW = 1_700_000_000;
const body = Buffer.from("payload=%7B%22type%22%3A%22block_actions%22%7D");
const sign = (ts: string, raw: Buffer = body, secret = SECRET) => `v0=${createHmac("sha256", secret).update(`v0:${ts}:`).update(raw).digest("hex")}`;

describe("Slack v0 signature", () => {
  it.each([
    ["signed now", String(NOW), sign(String(NOW)), undefined],
    ["signed 300 s ago", String(NOW - 300), sign(String(NOW - 300)), undefined],
    ["signed 301 s ago", String(NOW - 301), sign(String(NOW - 301)), "stale X-Slack-Request-Timestamp (replay window)"],
    ["from 301 s in the future", String(NOW + 301), sign(String(NOW + 301)), "stale X-Slack-Request-Timestamp (replay window)"],
    ["another secret", String(NOW), sign(String(NOW), body, "other"), "bad X-Slack-Signature"],
    ["another body", String(NOW), sign(String(NOW), Buffer.from("payload=x")), "bad X-Slack-Signature"],
    ["uppercase hex", String(NOW), sign(String(NOW)).toUpperCase(), "bad X-Slack-Signature"],
    ["no signature", String(NOW), "", "bad X-Slack-Signature"],
    ["no timestamp", "", sign(""), "missing or malformed X-Slack-Request-Timestamp"],
    ["timestamp not a number", "12a", sign("12a"), "missing or malformed X-Slack-Request-Timestamp"],
  ])("%s", (_name, ts, sig, why) => {
    expect(verify(SECRET, ts, sig, body, NOW, 300)).toBe(why);
  });
});

describe("approvals.slack config", () => {
  it("refuses a Slack user mapped to a name that is not a reviewer", () => {
    const text = `approvals:
  enabled: true
  reviewers: [{ name: alice, token: { value: alice-token-3f9c1e } }]
  slack: { signing_secret: { value: s }, users: { U1: alice, U2: mallory } }
`;
    expect(() => loadConfig({ text, env: {} })).toThrow(/approvals\.slack\.users\.U2: mallory is not in approvals\.reviewers/);
    const ok = loadConfig({ text: text.replace(", U2: mallory", ""), env: {} });
    expect(ok.approvals.slack?.signing_secret.reveal()).toBe("s");
    expect(JSON.stringify(ok.approvals.slack)).not.toContain('"s"');
  });
});
