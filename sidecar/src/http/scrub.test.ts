import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { routeSecrets, scrubBuffer, SCRUBBED, scrubHeaders, SecretScrubber, secretForms } from "./scrub.js";

const SECRET = "s3cr3t-Token_value+/=x";
const needles = secretForms([SECRET]);

async function streamed(chunks: Buffer[]): Promise<string> {
  const out: Buffer[] = [];
  for await (const c of Readable.from(chunks).pipe(new SecretScrubber(needles))) out.push(c as Buffer);
  return Buffer.concat(out).toString("utf8");
}

describe("secretForms", () => {
  it.each([
    ["raw", `x ${SECRET} y`],
    ["base64", `auth=${Buffer.from(SECRET).toString("base64")}`],
    ["base64url", `auth=${Buffer.from(SECRET).toString("base64url")}`],
    ["base64 inside a longer blob, offset 1", Buffer.from(`a${SECRET}zz`).toString("base64")],
    ["base64 inside a longer blob, offset 2", Buffer.from(`ab${SECRET}zz`).toString("base64")],
    ["base64 inside a longer blob, offset 3", Buffer.from(`abc${SECRET}zz`).toString("base64")],
    ["JSON-escaped", JSON.stringify({ t: "s3cr3t-Token_value+/=x" }).replace("/", "\\/")],
    ["percent-encoded", `?t=${encodeURIComponent(SECRET)}`],
  ])("finds the %s form", (_name, text) => {
    const out = scrubBuffer(Buffer.from(text), needles).toString();
    expect(out).toContain(SCRUBBED);
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain(Buffer.from(SECRET).toString("base64").slice(0, 20));
  });

  it("leaves other text alone", () => {
    const text = Buffer.from('{"id": 12345678901234567890, "note": "nothing here"}');
    expect(scrubBuffer(text, needles)).toBe(text);
  });

  it("basic credentials: user:password and the password alone", () => {
    expect(routeSecrets({ type: "basic", value: "svc:pa55word-long" })).toEqual(["svc:pa55word-long", "pa55word-long"]);
  });
});

describe("SecretScrubber", () => {
  const text = `{"echo":"Bearer ${SECRET}","b64":"${Buffer.from(SECRET).toString("base64")}"}`;

  it("replaces the secret split at every byte offset", async () => {
    const bytes = Buffer.from(text);
    const whole = scrubBuffer(bytes, needles).toString();
    for (let i = 1; i < bytes.length; i++) {
      const out = await streamed([bytes.subarray(0, i), bytes.subarray(i)]);
      expect(out, `split at ${i}`).toBe(whole);
    }
  });

  it("holds back only what could start a secret", async () => {
    const s = new SecretScrubber(needles);
    const seen: string[] = [];
    s.on("data", (c: Buffer) => seen.push(c.toString()));
    s.write(Buffer.from("data: hello\n\n"));
    s.write(Buffer.from("data: s3c"));
    await new Promise((r) => setImmediate(r));
    expect(seen.join("")).toBe("data: hello\n\ndata: ");
  });
});

describe("scrubHeaders", () => {
  it("replaces the secret inside any header value", () => {
    const h = { "x-debug": `Bearer ${SECRET}`, "x-list": ["a", Buffer.from(SECRET).toString("base64")], "x-ok": "fine" };
    expect(scrubHeaders(h, needles)).toBe(true);
    expect(JSON.stringify(h)).not.toContain(SECRET);
    expect(h["x-ok"]).toBe("fine");
  });

  it("drops a header whose name carries the secret", () => {
    const h: Record<string, string> = { [`x-${SECRET.toLowerCase()}`]: "1", "x-ok": "fine" };
    expect(scrubHeaders(h, needles)).toBe(true);
    expect(Object.keys(h)).toEqual(["x-ok"]);
  });
});
