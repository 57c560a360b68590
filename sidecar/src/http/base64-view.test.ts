import { describe, expect, it } from "vitest";
import { maskBase64 } from "./base64-view.js";

const hide = (t: string): string => t.replace(/alice@example\.com/g, "****");
const b64 = (t: string): string => Buffer.from(t).toString("base64");
const b64url = (t: string): string => Buffer.from(t).toString("base64url");

describe("maskBase64", () => {
  it.each([
    ["padded base64", b64("mail alice@example.com!"), b64("mail ****!")],
    ["unpadded base64url", b64url("mail alice@example.com?>"), b64url("mail ****?>")],
    ["a JWT's payload, header and signature kept", `eyJhbGciOiJIUzI1NiJ9.${b64url('{"email":"alice@example.com"}')}.c2lnbmF0dXJl`, `eyJhbGciOiJIUzI1NiJ9.${b64url('{"email":"****"}')}.c2lnbmF0dXJl`],
  ])("%s", (_name, s, expected) => {
    expect(maskBase64(s, hide)).toBe(expected);
  });

  it.each([
    ["a hex id", "3f2a9c1e7b4d4a0f9e8d7c6b5a493827"],
    ["a short string", b64("alice@ex")],
    ["binary", Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87]).toString("base64")],
    ["text without a hit", b64("nothing to see here")],
    ["words", "the quick brown fox jumps"],
  ])("%s is left as it is", (_name, s) => {
    expect(maskBase64(s, hide)).toBe(s);
  });

  it("a nulled segment nulls the value", () => {
    expect(maskBase64(b64("mail alice@example.com"), () => null)).toBeNull();
  });
});
