import type { OutgoingHttpHeaders } from "node:http";
import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { hashValue, REDACTED } from "../mask/index.js";
import { maskResponseHeaders } from "./mask-headers.js";
import { ResponseMasker } from "./masker.js";

const KEY = Buffer.from("k");
const SSN = "123-45-6789";
const EMAIL = "alice@example.com";
const FIELDS: MaskRule[] = [
  { field: "ssn", strategy: "redact" },
  { field: "email", strategy: "redact" },
];
const DETECTORS: MaskRule[] = [
  { detector: "ssn", strategy: "redact" },
  { detector: "email", strategy: "redact" },
];

function masked(rules: MaskRule[], headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const out = { ...headers };
  maskResponseHeaders(out, ResponseMasker.from(rules, KEY)!);
  return out;
}

const ORDINARY: OutgoingHttpHeaders = {
  "content-type": "application/json; charset=utf-8",
  "content-length": "1234",
  date: "Tue, 15 Nov 1994 08:12:31 GMT",
  etag: '"33a64df551425fcc55e4d42a148795d9f25f89d4"',
  "cache-control": "no-cache, max-age=0",
  "x-request-id": "0af76519-16cd-43dd-8448-eb211c80319c",
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  location: "/customers/42?page=2&sort=name",
  link: '</customers?page=3>; rel="next"',
  "x-total-count": "4111",
  vary: "Accept-Encoding, Origin",
};

describe("maskResponseHeaders", () => {
  it.each([
    ["field rules", FIELDS],
    ["detector rules", DETECTORS],
  ])("ordinary headers pass unchanged under %s", (_name, rules) => {
    const headers = { ...ORDINARY, "set-list": ["a=1", "b=2"] };
    const out = { ...headers };
    expect(maskResponseHeaders(out, ResponseMasker.from(rules, KEY)!)).toBe(0);
    expect(out).toEqual(headers);
  });

  // Each row: the header as the upstream sent it, and what the agent gets, under field rules and under detectors.
  it.each([
    ["a query value named by the rule", "location", `/customers?email=${EMAIL}`, `/customers?email=${REDACTED}`, `/customers?email=${REDACTED}`],
    ["a percent-encoded query value", "location", "/c?email=alice%40example.com&x=1", `/c?email=${REDACTED}&x=1`, `/c?email=${REDACTED}&x=1`],
    ["a percent-encoded value under another name", "location", "/c?q=alice%40example.com", `/c?q=${REDACTED}`, `/c?q=${REDACTED}`],
    ["an encoded parameter name", "location", `/c?e%6Dail=x`, `/c?e%6Dail=${REDACTED}`, `/c?e%6Dail=x`],
    ["a double-encoded value", "location", "/c?q=alice%2540example.com", REDACTED, REDACTED],
    ["a file name", "content-disposition", `attachment; filename="${SSN}.json"`, `attachment; filename="${REDACTED}.json"`, `attachment; filename="${REDACTED}.json"`],
    ["an RFC 5987 file name", "content-disposition", "attachment; filename*=UTF-8''alice%40example.com.txt", `attachment; filename*=UTF-8''${REDACTED}`, `attachment; filename*=UTF-8''${REDACTED}`],
    ["a custom header named by the rule", "x-customer-email", EMAIL, REDACTED, REDACTED],
    ["a custom header named by the rule, any value", "x-customer-ssn", "not-an-ssn", REDACTED, "not-an-ssn"],
    ["key: value pairs", "x-debug", `ssn: ${SSN}, id: 7`, `ssn: ${REDACTED}, id: 7`, `ssn: ${REDACTED}, id: 7`],
    ["a JSON value", "x-meta", `{"ssn":"${SSN}","n":1}`, `{"ssn":"${REDACTED}","n":1}`, `{"ssn":"${REDACTED}","n":1}`],
    ["a link header", "link", `</c?email=${EMAIL}>; rel="self"`, `</c?email=${REDACTED}>; rel="self"`, `</c?email=${REDACTED}>; rel="self"`],
  ])("masks %s", (_name, header, value, underFields, underDetectors) => {
    expect(masked(FIELDS, { [header]: value })[header]).toBe(underFields);
    expect(masked(DETECTORS, { [header]: value })[header]).toBe(underDetectors);
  });

  it.each([
    ["X-Customer-Email", "email", true],
    ["Email", "email", true],
    ["x-customer_email", "email", true],
    ["X-Email-Address", "emailAddress", true],
    ["x-card-number", "card_number", true],
    ["x-card-number", "/customer/cardNumber", true],
    // By spelling, as JSON keys: the words of a run written together are the rule's name.
    ["X-Cardnumber", "card_number", true],
    ["X-Customer-Cardnumber", "CardNumber", true],
    ["X-Card-Number", "cardnumber", true],
    ["X-E-Mail", "email", true],
    ["x-card-numbers", "card_number", false],
    ["X-Session", "ssn", false],
    ["X-Lessons", "ssn", false],
    ["X-Emails-Sent", "email", false],
    ["X-Femail", "email", false],
    ["X-Provider", "id", false],
    // Headers HTTP defines keep their names out of field rules.
    ["content-type", "type", false],
    ["location", "location", false],
    ["content-length", "length", false],
  ])("header %s against field %s: masked %s", (header, field, expected) => {
    const out = masked([{ field, strategy: "redact" }], { [header.toLowerCase()]: "some value" });
    expect(out[header.toLowerCase()] === REDACTED).toBe(expected);
  });

  it("leaves the parameters HTTP defines in standard headers to detectors", () => {
    const rules: MaskRule[] = [{ field: "age", strategy: "redact" }, { field: "name", strategy: "redact" }, { field: "charset", strategy: "redact" }];
    const headers = { "cache-control": "max-age=60", "content-disposition": 'form-data; name="file"', "content-type": "text/plain; charset=utf-8" };
    expect(masked(rules, headers)).toEqual(headers);
    expect(masked(rules, { "x-meta": "age=60" })["x-meta"]).toBe(`age=${REDACTED}`);
  });

  it("keeps each rule's strategy: hash, partial, null, and detectors inside a named header", () => {
    const out = masked(
      [
        { field: "email", strategy: "hash" },
        { field: "phone", strategy: "partial" },
        { field: "ssn", strategy: "null" },
        { field: "notes", detector: "email", strategy: "redact" },
      ],
      { "x-email": EMAIL, "x-phone": "(415) 555-2671", "x-ssn": SSN, "x-notes": `write ${EMAIL}` },
    );
    expect(out["x-email"]).toBe(hashValue(EMAIL, KEY));
    expect(out["x-phone"]).toMatch(/2671$/);
    expect(out["x-phone"]).not.toContain("555");
    expect(out["x-ssn"]).toBe("");
    expect(out["x-notes"]).toBe(`write ${REDACTED}`);
  });

  it("masks a pair spelled with HTML references once, as it reads decoded", () => {
    const rules: MaskRule[] = [{ field: "email", strategy: "hash" }];
    const hashed = hashValue("bob", KEY);
    // Found as sent and in the decoded spelling alike: hashed once, not the hash hashed again.
    expect(masked(rules, { "x-q": "email=bob&amp;x=1" })["x-q"]).toBe(`email=${hashed}&amp;x=1`);
    expect(masked(rules, { "x-q": "email&#61;b&#111;b" })["x-q"]).toBe(`email&#61;${hashed}`);
    expect(masked(rules, { "content-disposition": "attachment; filename*=UTF-8''email%3Dbob" })["content-disposition"]).toBe(`attachment; filename*=UTF-8''email%3D${hashed}`);
  });

  it("matches parameter names in header values by spelling, keeping names that only contain a word", () => {
    const rules: MaskRule[] = [{ field: "fullname", strategy: "redact" }];
    const out = masked(rules, { location: "/p?full-name=Ada&fullnames=2&name=Bob", "x-meta": "Full_Name=Ada; fullness=3" });
    expect(out).toEqual({ location: `/p?full-name=${REDACTED}&fullnames=2&name=Bob`, "x-meta": `Full_Name=${REDACTED}; fullness=3` });
  });

  it("masks each value of a repeated header", () => {
    expect(masked(DETECTORS, { link: [`</a?e=${EMAIL}>`, "</b>"] }).link).toEqual([`</a?e=${REDACTED}>`, "</b>"]);
  });

  it("drops a header whose name holds a detected value", () => {
    const out = masked(FIELDS, { [`x-${SSN}`]: "1", "x-ok": "2" });
    expect(out).toEqual({ "x-ok": "2" });
  });

  it("the same masker gives a repeated header the same answer (each pair is scanned once, then remembered)", () => {
    const masker = ResponseMasker.from(FIELDS, KEY)!;
    const sent = { location: `/c?email=${EMAIL}`, [`x-${SSN}`]: "1", "content-type": "application/json", "x-list": [`e=${EMAIL}`, "ok"] };
    for (let i = 0; i < 3; i++) {
      const out: OutgoingHttpHeaders = { ...sent };
      expect(maskResponseHeaders(out, masker)).toBe(3);
      expect(out).toEqual({ location: `/c?email=${REDACTED}`, "content-type": "application/json", "x-list": [`e=${REDACTED}`, "ok"] });
    }
  });

  it("a dotted name is a path written flat: its last part names the field, a part before a dot does not", () => {
    const rules: MaskRule[] = [{ field: "email", strategy: "redact" }, { field: "full_name", strategy: "redact" }];
    const sent: OutgoingHttpHeaders = {
      "x-user.email": "a",
      "x-ssn.": "b",
      "x-email.": "c",
      "x-customer.fullName": "d",
      location: "/u?user.email=e&user%2Eemail=f&email.verified=true&fullName.length=3&email.Verified=g",
      "x-email.verified": "true",
      "x-full-name.length": "12",
    };
    expect(masked(rules, sent)).toEqual({
      "x-user.email": REDACTED,
      "x-ssn.": "b",
      "x-email.": REDACTED,
      "x-customer.fullName": REDACTED,
      location: `/u?user.email=${REDACTED}&user%2Eemail=${REDACTED}&email.verified=true&fullName.length=3&email.Verified=g`,
      "x-email.verified": "true",
      "x-full-name.length": "12",
    });
  });

  it("leaves Content-Length alone", () => {
    expect(masked([{ field: "length", strategy: "redact" }], { "content-length": "4111111111111111" })["content-length"]).toBe("4111111111111111");
  });

  it("a JSON value embedded deeper than regate masks is redacted whole", () => {
    const nest = (v: unknown, n: number): unknown => (n === 0 ? v : { d: JSON.stringify(nest(v, n - 1)) });
    expect(masked(FIELDS, { "x-meta": JSON.stringify(nest({ ssn: SSN }, 4)) })["x-meta"]).toBe(REDACTED);
  });
});
