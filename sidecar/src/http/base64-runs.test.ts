import { describe, expect, it } from "vitest";
import { REDACTED } from "../mask/index.js";
import { ResponseMasker } from "./masker.js";
import { maskBase64Runs } from "./base64-runs.js";

const b64url = (s: string): string => Buffer.from(s).toString("base64url");
const EMAIL = "alice@example.com";
const JWT = `${b64url('{"alg":"RS256"}')}.${b64url(`{"sub":"u-1","email":"${EMAIL}"}`)}.c2lnbmF0dXJl`;
const payload = (jwt: string): unknown => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString());
const detect = ResponseMasker.from([{ detector: "email", strategy: "redact" }])!;
const fields = ResponseMasker.from([{ field: "email", strategy: "redact" }])!;
const maskString = (m: ResponseMasker, s: string): string => JSON.parse(m.maskJsonText(JSON.stringify({ s }))).s as string;

describe("base64 runs inside a string", () => {
  it("a JWT after `Bearer ` has its claims masked, by detectors and by field rules", () => {
    for (const m of [detect, fields]) {
      const out = maskString(m, `Bearer ${JWT}`);
      expect(out.startsWith("Bearer ")).toBe(true);
      expect(payload(out.slice(7))).toEqual({ sub: "u-1", email: REDACTED });
    }
  });

  it("a plain value and a JWT in one string are both masked (detectors no longer stop the base64 look)", () => {
    const out = maskString(detect, `mail ${EMAIL}, token ${JWT}`);
    expect(out.startsWith(`mail ${REDACTED}, token `)).toBe(true);
    expect(payload(out.split(" ").at(-1)!)).toEqual({ sub: "u-1", email: REDACTED });
  });

  it("plain text is read the same way", () => {
    expect(payload(detect.maskPlainText(`id_token=${JWT}&state=x`).slice(9, -8))).toEqual({ sub: "u-1", email: REDACTED });
  });

  it("a null strategy nulls the string it hits", () => {
    expect(maskBase64Runs(`Bearer ${JWT}`, () => null)).toBeNull();
  });

  it.each([
    ["an inline image", `data:image/png;base64,${Buffer.from([0x89, 0x50, 0x4e, 0x47, ...Array(40).keys()]).toString("base64")}`],
    ["a cursor", `/rows?cursor=${b64url("page=2&size=50&order=asc")}`],
    ["a hex id", "order 0123456789abcdef0123456789abcdef"],
    ["long words", "internationalization of /api/v1/customers/12345/orders"],
  ])("must-allow: %s is unchanged", (_name, s) => {
    expect(maskString(detect, s)).toBe(s);
    expect(detect.maskPlainText(s)).toBe(s);
  });
});
