import { describe, expect, it } from "vitest";
import { REDACTED } from "../mask/index.js";
import { ResponseMasker } from "./masker.js";
import { maskHeaderBase64 } from "./header-base64.js";

const b64url = (s: string): string => Buffer.from(s).toString("base64url");
const JWT = `${b64url('{"alg":"RS256"}')}.${b64url('{"sub":"u-1","email":"alice@example.com"}')}.c2lnbmF0dXJl`;
const detect = ResponseMasker.from([{ detector: "email", strategy: "redact" }])!;
const mask = (v: string, m: ResponseMasker): string => maskHeaderBase64(v, m, m.detect);

describe("maskHeaderBase64", () => {
  it("masks a JWT's claims wherever it stands in the value, its other segments and the text around kept", () => {
    const out = mask(`Bearer ${JWT}`, detect);
    const [head, payload, sig] = out.slice(7).split(".");
    expect(out.startsWith("Bearer ")).toBe(true);
    expect([head, sig]).toEqual([JWT.split(".")[0], "c2lnbmF0dXJl"]);
    expect(JSON.parse(Buffer.from(payload!, "base64url").toString())).toEqual({ sub: "u-1", email: REDACTED });
    expect(mask(`https://app.example/cb#id_token=${JWT}&state=s`, detect)).toMatch(/^https:\/\/app\.example\/cb#id_token=[\w.-]+&state=s$/);
  });

  it("field rules reach the claims' fields", () => {
    const out = mask(JWT, ResponseMasker.from([{ field: "email", strategy: "redact" }])!);
    expect(JSON.parse(Buffer.from(out.split(".")[1]!, "base64url").toString())).toEqual({ sub: "u-1", email: REDACTED });
  });

  it("the header's own detectors read the decoded text (mask-headers.ts adds them under field rules)", () => {
    const fields = ResponseMasker.from([{ field: "ssn", strategy: "redact" }])!;
    const raw = Buffer.from(`To: alice@example.com\r\n\r\nhello`).toString("base64");
    expect(maskHeaderBase64(raw, fields, fields.detect)).toBe(raw);
    expect(Buffer.from(maskHeaderBase64(raw, fields, detect.detect), "base64").toString()).toBe(`To: ${REDACTED}\r\n\r\nhello`);
  });

  it("a value encoded deeper than regate masks is redacted whole, not thrown", () => {
    let v = "alice@example.com is the address";
    for (let i = 0; i < 5; i++) v = Buffer.from(`note: ${v}`).toString("base64");
    expect(maskHeaderBase64(`x ${v}`, detect, detect.detect)).toBe(REDACTED);
  });

  it.each(["application/json; charset=utf-8", "b3f1c2d4e5a6978812345678", b64url("page=2&size=50"), "sha256-n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=", "short"])("must-allow: %s is unchanged", (v) => {
    expect(mask(v, detect)).toBe(v);
  });
});
