import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { ResponseMasker } from "./masker.js";
import { openMatchStart } from "./detector-tails.js";
import { StreamJoins, streamJoinsFor, type Released } from "./stream-joins.js";

const RULES: MaskRule[] = (["ssn", "card", "email", "phone", "iban", "aws_key", "jwt", "secret"] as const).map((detector) => ({ detector, strategy: "redact" }));
const masker = ResponseMasker.from(RULES)!;
const ALL = RULES.map((r) => r.detector!);

const chat = (s: string): string => JSON.stringify({ choices: [{ index: 0, delta: { content: s } }] });
const content = (data: string): string => (JSON.parse(data) as { choices: { delta: { content: string | null } }[] }).choices[0]!.delta.content ?? "";

/** Events through joins then the per-event mask, as SseMasker runs them; returns the masked events and how many waited. */
function through(pieces: string[], m = masker): { events: string[]; held: number } {
  const joins = new StreamJoins<number>(streamJoinsFor(m)!, () => {});
  const events: string[] = [];
  let held = 0;
  const take = (rs: Released<number>[]): void => {
    for (const r of rs) events.push(m.maskEventData(r.data));
  };
  pieces.forEach((p, i) => {
    const out = joins.add(i, chat(p), "json");
    held += i + 1 - events.length - out.length;
    take(out);
  });
  take(joins.end());
  joins.stop();
  return { events, held };
}

const VALUES = { ssn: "607-59-5353", card: "4111 1111 1111 1111", email: "jane.doe@example.com", phone: "+1 415 555 2671", aws: "AKIAIOSFODNN7EXAMPLE" };

describe("joins over a stream's deltas", () => {
  for (const [name, value] of Object.entries(VALUES)) {
    it(`${name} cut at every place over 2 and 3 events never comes out whole`, () => {
      const text = `Your record: ${value}. Thanks`;
      const at = text.indexOf(value);
      for (let i = at; i <= at + value.length; i++) {
        for (let j = i; j <= at + value.length; j++) {
          const { events } = through([text.slice(0, i), text.slice(i, j), text.slice(j)]);
          const joined = events.map(content).join("");
          expect(joined, `${i}/${j}`).not.toContain(value);
          expect(joined.replace(/\s/g, "")).not.toContain(value.replace(/\s/g, ""));
          for (const e of events) expect(() => JSON.parse(e)).not.toThrow();
        }
      }
    });
  }

  it.each([
    ["fullwidth digits", "６０７-５９-５３５３"],
    ["a zero-width space inside", "607-59-53\u200b53"],
    ["percent escapes", "607%2D59%2D5353"],
    ["HTML references", "607&#45;59&#x2d;5353"],
    ["a JSON escape in plain text", "607\\u002d59-5353"],
  ])("an SSN spelled with %s, cut at every place, never comes out readable", (_name, spelled) => {
    const text = `id ${spelled} ok`;
    for (let i = 3; i <= 3 + spelled.length; i++) {
      const { events } = through([text.slice(0, i), text.slice(i)]);
      const joined = events.map(content).join("");
      expect(joined, String(i)).toBe("id **** ok");
    }
  });

  it("prose, code and numbers pass unchanged and are not held", () => {
    const words = "The build 42 took 3.5 seconds on version 1.2.3 at 2024-05-01T10:00:00Z; see `for (let i = 0; i < 10; i++)` and call me maybe.".split(/(?<= )/);
    const { events, held } = through(words);
    expect(events.map(content).join("")).toBe(words.join(""));
    // Only deltas ending in a digit run wait for the next one.
    expect(held).toBeLessThanOrEqual(words.filter((w) => /[\d.:-]\s?$/.test(w)).length);
    expect(through("Hello there, how are you today? I am fine.".split(/(?<= )/)).held).toBe(0);
  });

  it("a field rule's detector joins the deltas inside that field; a field masked whole needs no join", () => {
    const inField = ResponseMasker.from([{ field: "content", detector: "ssn", strategy: "redact" }])!;
    const { events } = through(["SSN 607-", "59-5353 ok"], inField);
    expect(events.map(content).join("")).toBe("SSN **** ok");
    const elsewhere = ResponseMasker.from([{ field: "note", detector: "ssn", strategy: "redact" }])!;
    expect(through(["SSN 607-", "59-5353 ok"], elsewhere)).toEqual({ events: [chat("SSN 607-"), chat("59-5353 ok")], held: 0 });
    // Field rules without detectors: no joins, the stream is masked as before.
    expect(streamJoinsFor(ResponseMasker.from([{ field: "content", strategy: "redact" }])!)).toBeUndefined();
    const wholeAndDetect = ResponseMasker.from([{ field: "content", strategy: "redact" }, { field: "note", detector: "ssn", strategy: "redact" }])!;
    expect(through(["SSN 607-", "59-5353 ok"], wholeAndDetect)).toEqual({ events: [chat("****"), chat("****")], held: 0 });
  });

  it.each(["/choices/*/delta/*", "/choices/0", "/choices/*", "/choices/0/delta/content"])("a detector under the pointer %s joins the deltas it covers, whole and streamed equal", (pointer) => {
    const m = ResponseMasker.from([{ field: pointer, detector: "ssn", strategy: "redact" }])!;
    const text = "The SSN is 607-59-5353 on file.";
    const whole = content(m.maskEventData(chat(text)));
    expect(whole).toBe("The SSN is **** on file.");
    const at = text.indexOf("607");
    for (let i = at; i <= at + 11; i++) {
      for (let j = i; j <= at + 11; j++) expect(through([text.slice(0, i), text.slice(i, j), text.slice(j)], m).events.map(content).join(""), `${i}/${j}`).toBe(whole);
    }
    // Outside what the pointer covers, no join and no hold.
    const other = ResponseMasker.from([{ field: "/choices/*/logprobs/*", detector: "ssn", strategy: "redact" }])!;
    expect(through(["SSN 607-", "59-5353 ok"], other)).toEqual({ events: [chat("SSN 607-"), chat("59-5353 ok")], held: 0 });
  });

  it("the hold bound masks what may be a match under way, and the rest of it when it comes", async () => {
    let expired = false;
    const joins = new StreamJoins<number>(streamJoinsFor(masker)!, () => (expired = true), { maxHoldMs: 20 });
    expect(joins.add(0, chat("SSN 607-59"), "json")).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(expired).toBe(true);
    const out = joins.expire().map((r) => content(r.data));
    expect(out).toEqual(["SSN ****"]);
    const rest = joins.add(1, chat("-5353 ok"), "json").concat(joins.end());
    expect(rest.map((r) => content(r.data)).join("")).not.toContain("5353");
    joins.stop();
  });

  it("after the bound, the rest of a value in groups is masked too", async () => {
    for (const [first, rest] of [["SSN 607 59", " 5353 ok"], ["card 4111 1111 1111", " 1111 ok"]] as const) {
      const joins = new StreamJoins<number>(streamJoinsFor(masker)!, () => {}, { maxHoldMs: 10 });
      expect(joins.add(0, chat(first), "json")).toEqual([]);
      const out = joins.expire().concat(joins.add(1, chat(rest), "json"), joins.end());
      joins.stop();
      const joined = out.map((r) => content(r.data)).join("");
      expect(joined, first).not.toMatch(/5353|1111/);
      expect(joined.endsWith(" ok")).toBe(true);
    }
  });

  it("the held size bound masks at once, and the rest of a private key block after it until its END", () => {
    // With the secret detector alone too: an event held after the bound once forgot that the block was open.
    for (const m of [masker, ResponseMasker.from([{ detector: "secret", strategy: "redact" }])!]) {
      const joins = new StreamJoins<number>(streamJoinsFor(m)!, () => {}, { maxHeldChars: 200 });
      const out: string[] = [];
      out.push(...joins.add(0, chat("-----BEGIN RSA PRIVATE KEY-----\n"), "json").map((r) => content(r.data)));
      expect(out).toEqual([]);
      for (let i = 1; i < 10; i++) out.push(...joins.add(i, chat("MIIEpAIBAAKCAQEA1234567890abcdef"), "json").map((r) => content(r.data)));
      expect(out.length).toBeGreaterThan(0);
      for (let i = 10; i < 200; i++) out.push(...joins.add(i, chat("\nMIIEpAIBAAKCAQEA1234567890abcdef/x+Y"), "json").map((r) => content(r.data)));
      out.push(...joins.add(200, chat("\n-----END RSA PRIVATE KEY-----\nDone."), "json").map((r) => content(r.data)), ...joins.end().map((r) => content(r.data)));
      expect(out.join("")).not.toMatch(/MIIE|abcdef|END/);
      expect(out.join("").endsWith("\nDone.")).toBe(true);
      joins.stop();
    }
  });
});

describe("bounds of the joins", () => {
  const emailOnly = ResponseMasker.from([{ detector: "email", strategy: "redact" }])!;
  const digits = Array.from({ length: 100_000 }, (_v, i) => String((i * 7 + 3) % 10)).join("");
  const runs: [string, string][] = [
    ["digits", digits],
    ["hex", Array.from({ length: 100_000 }, (_v, i) => "0123456789abcdef"[(i * 11 + 5) % 16]).join("")],
    ["base64url", Buffer.from(Array.from({ length: 75_000 }, (_v, i) => (i * 37 + 11) % 256)).toString("base64url")],
    ["snake_case", "user_account_id_".repeat(6_000)],
  ];

  it.each(runs)("a long run of %s streamed in 50-character deltas under the email detector comes back byte for byte", (_name, run) => {
    // An email's local part is at most 64 characters: a longer run cannot start one, so it is not held to the bound.
    const pieces = [`data ${run.slice(0, 45)}`, ...Array.from({ length: Math.ceil((run.length - 45) / 50) }, (_v, i) => run.slice(45 + i * 50, 95 + i * 50)), " end"];
    const { events, held } = through(pieces, emailOnly);
    expect(events.map(content).join("") === `data ${run} end`).toBe(true);
    expect(held).toBeLessThanOrEqual(2);
  });

  it("an email cut across deltas is still masked, its local part up to 64 characters", () => {
    for (const local of ["jane.doe2", "x".repeat(60) + "_123"]) {
      const text = `Mail ${local}@example.com ok`;
      const at = text.indexOf("@");
      for (const cut of [at - 3, at, at + 1, at + 5]) {
        expect(through([text.slice(0, cut), text.slice(cut)], emailOnly).events.map(content).join(""), `${local} ${cut}`).toBe("Mail **** ok");
      }
    }
    // As a whole value: a local part past 64 characters is no address.
    const long = `Mail ${"1".repeat(65)}@example.com ok`;
    expect(content(emailOnly.maskEventData(chat(long)))).toBe(long);
    expect(through([long.slice(0, 50), long.slice(50, 75), long.slice(75)], emailOnly).events.map(content).join("")).toBe(long);
  });

  it("a stream that writes ever new paths keeps what it remembers per path bounded", () => {
    const joins = new StreamJoins<number>(streamJoinsFor(masker)!, () => {}, { maxHoldMs: 60_000 });
    const at = (n: number, s: string): string => `{"candidates":[{"content":{"parts":[${"{},".repeat(n)}{"text":${JSON.stringify(s)}}]}}]}`;
    for (let n = 0; n < 2500; n++) {
      // Half of them end inside a value masked at the bound: those paths remember that the rest is to be emptied.
      joins.add(n, at(n, n % 2 === 0 ? "word " : "SSN 607-59"), "json");
      joins.expire();
    }
    joins.stop();
    expect(joins.keptPaths.sent).toBeLessThanOrEqual(1024);
    expect(joins.keptPaths.continues).toBeLessThanOrEqual(1024);
    expect(joins.keptPaths.continues).toBeGreaterThan(0);
  });

  it("a body read whole is scanned once, however many of its events are held", () => {
    const base = streamJoinsFor(emailOnly)!;
    let scanned = 0;
    const counting = { specFor: base.specFor, spans: (text: string, spec: Parameters<typeof base.spans>[1]) => ((scanned += text.length), base.spans(text, spec)) };
    const joins = new StreamJoins<number>(counting, () => {}, { whole: true });
    let out: Released<number>[] = [];
    for (let i = 0; i < 5000; i++) out = out.concat(joins.add(i, chat(i === 4000 ? " a1@example.com " : "12"), "json"));
    out = out.concat(joins.end());
    expect(scanned).toBeLessThanOrEqual(5000 * 2 + 20);
    expect(out.map((r) => content(r.data)).join("")).toBe(`${"12".repeat(4000)} **** ${"12".repeat(999)}`);
  });
});

describe("openMatchStart", () => {
  it.each([
    ["Hello world", 11],
    ["Hello world ", 12],
    ["in 2024.", 3],
    ["SSN 607-5", 4],
    ["mail jane.d", 5],
    ["mail jane", 9],
    ["mail jane@exa", 5],
    ["key AKIA12", 4],
    ["the AI", 4],
  ])("%j opens at %i", (t, at) => {
    expect(openMatchStart(t, ALL)).toBe(at);
  });
});
