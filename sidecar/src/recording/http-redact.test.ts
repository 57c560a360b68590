import { describe, expect, it } from "vitest";
import type { Decision } from "../decision/index.js";
import { recordableRequest } from "./http-redact.js";
import { scrubSecrets, secretForms } from "./scrub.js";

const decision = (mask: Decision["mask"]): Decision => ({ decision_id: "d", outcome: "allow", reasons: [], mask, dry_run: false, revision: "r" });

describe("recordableRequest", () => {
  it.each([
    ["a field mask replaces the value whole, at any depth, whatever its type", [{ field: "ssn", strategy: "redact" }], { a: { ssn: 123456789, b: [{ SSN: "x" }] } }, { a: { ssn: "****", b: [{ SSN: "****" }] } }],
    ["a pointer rule masks by its last token", [{ field: "/customer/email", strategy: "partial" }], { customer: { email: "x" }, other: { email: "y" } }, { customer: { email: "****" }, other: { email: "****" } }],
    ["without masks, detectors still run over every string", [], { note: "mail bob@example.org now", n: 4 }, { note: "mail **** now", n: 4 }],
    ["a key that is personal data is redacted as a key", [], { "bob@example.org": 1 }, { "****": 1 }],
    ["a field mask finds its name however it is spelled", [{ field: "card_number", strategy: "partial" }], { a: [{ cardNumber: "x" }, { "Card Number": "x" }, { "card-number": "x" }, { "ｃａｒｄ＿ｎｕｍｂｅｒ": "x" }, { "card\u200bnumber": "x" }] }, { a: [{ cardNumber: "****" }, { "Card Number": "****" }, { "card-number": "****" }, { "ｃａｒｄ＿ｎｕｍｂｅｒ": "****" }, { "card\u200bnumber": "****" }] }],
    ["names that only contain the field's name are kept", [{ field: "ssn", strategy: "redact" }, { field: "card_number", strategy: "redact" }], { session: "a", ssn_count: 2, card_numbers: "b", cardholder: "c" }, { session: "a", ssn_count: 2, card_numbers: "b", cardholder: "c" }],
    ["credential names are judged as spelled", [], { "Api Key": "k", "pass\u200bword": "p", "Session Id": "s", page: "2" }, { "Api Key": "****", "pass\u200bword": "****", "Session Id": "****", page: "2" }],
    ["a dotted name is a path written flat: its last parts name the field", [{ field: "email", strategy: "partial" }, { field: "card_number", strategy: "partial" }, { field: "/profile/ssn", strategy: "redact" }], { "user.email": "x", attrs: { "customer.ssn": "y", "billing.card.number": "z" } }, { "user.email": "****", attrs: { "customer.ssn": "****", "billing.card.number": "****" } }],
    ["a dotted name whose last part is not the field's is kept", [{ field: "email", strategy: "partial" }, { field: "name", strategy: "redact" }], { "email.verified": true, "app.kubernetes.io/name": "web", "user.emails": 2 }, { "email.verified": true, "app.kubernetes.io/name": "web", "user.emails": 2 }],
    ["null stays null under a field mask", [{ field: "email", strategy: "redact" }], { email: null }, { email: null }],
  ] as [string, Decision["mask"], unknown, unknown][])("%s", (_, mask, body, want) => {
    expect(recordableRequest({ method: "POST", path: "/x", parsed_body: body }, decision(mask))["body"]).toEqual(want);
  });

  it("keeps only the content type of the headers, the canonical path and the query with the same masks", () => {
    const r = recordableRequest(
      { method: "GET", request_method: "POST", path: "/by-mail/bob@example.org", parsed_query: { email: ["a@b.io"], page: ["2"] }, headers: { "content-type": "application/json", "x-api-key": "k", cookie: "c" }, route: { name: "api" } },
      decision([{ field: "email", strategy: "partial" }]),
    );
    expect(r).toMatchObject({ method: "GET", request_method: "POST", route: "api", path: "/by-mail/****", query: { email: "****", page: ["2"] }, content_type: "application/json" });
    expect(JSON.stringify(r)).not.toMatch(/x-api-key|cookie/);
  });
});

describe("scrubSecrets", () => {
  const forms = secretForms(["s3cr3t-token-value", 'quo"te-secret']);
  it.each([
    ["as is", "token s3cr3t-token-value here", "token **** here"],
    ["base64", `auth ${Buffer.from("s3cr3t-token-value").toString("base64").replace(/=+$/, "")}`, "auth ****"],
    ["JSON-escaped", 'x quo\\"te-secret y', "x **** y"],
    ["untouched", "nothing to see", "nothing to see"],
  ])("%s", (_, text, want) => {
    expect(scrubSecrets({ a: [text], [text]: 1 }, forms)).toEqual({ a: [want], [want]: 1 });
  });
});
