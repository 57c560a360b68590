import { describe, expect, it } from "vitest";
import { isCredentialName, maskCredentialQuery } from "./credentials.js";

describe("isCredentialName", () => {
  it.each(["password", "Password", "access_token", "X-Amz-Signature", "Api Key", "pass\u200bword", "ｐａｓｓｗｏｒｄ", "client.secret", "Session Id"])("%s is a credential's name", (name) => {
    expect(isCredentialName(name)).toBe(true);
  });
  it.each(["page", "session", "passenger", "tokens_used", "signed_at", "author"])("%s is not", (name) => {
    expect(isCredentialName(name)).toBe(false);
  });
});

describe("maskCredentialQuery", () => {
  it("masks credential values under spelled names and keeps the rest byte for byte", () => {
    expect(maskCredentialQuery("page=2&Api%20Key=k1&pass%E2%80%8Bword=p1&session=s&access_token=t")).toBe("page=2&Api%20Key=****&pass%E2%80%8Bword=****&session=s&access_token=****");
  });
});
