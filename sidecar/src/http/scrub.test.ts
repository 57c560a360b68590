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

  it("basic credentials: user:password, the password alone, and their base64 as the upstream receives it", () => {
    expect(routeSecrets({ type: "basic", value: "svc:pa55word-long" })).toEqual(["svc:pa55word-long", "pa55word-long", Buffer.from("svc:pa55word-long").toString("base64")]);
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

describe("SecretScrubber over an event stream that goes quiet", () => {
  /** What came out of `s` once it has waited out its hold (a few ms here). */
  async function quiet(s: SecretScrubber, seen: string[]): Promise<string> {
    await new Promise((r) => setTimeout(r, 20));
    return seen.join("");
  }

  it("lets out an event whose data ends in what could start the secret once nothing more comes", async () => {
    const s = new SecretScrubber(needles, false, { sse: true, holdMs: 5 });
    const seen: string[] = [];
    s.on("data", (c: Buffer) => seen.push(c.toString()));
    s.write(Buffer.from("event: endpoint\ndata: /messages?session_id=7f3s\n\n"));
    expect(await quiet(s, seen)).toBe("event: endpoint\ndata: /messages?session_id=7f3s\n\n");
    s.end();
  });

  it("overwrites a longer start of the secret it lets out, and the rest when it comes", async () => {
    const s = new SecretScrubber(needles, false, { sse: true, holdMs: 5 });
    const seen: string[] = [];
    s.on("data", (c: Buffer) => seen.push(c.toString()));
    s.write(Buffer.from(`data: ${SECRET.slice(0, 8)}\n\n`));
    expect(await quiet(s, seen)).toBe("data: ********\n\n");
    s.write(Buffer.from(`data: ${SECRET.slice(8)}\n\n`));
    s.end();
    await new Promise((r) => s.once("end", r).resume());
    expect(seen.join("")).not.toContain(SECRET.slice(8));
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

describe("decoded forms", () => {
  // "+", "/" and "=" are the characters encoders treat differently.
  const TOKEN = "tok+AbC/dEf0123456789xyz==";
  const forms = secretForms([TOKEN]);
  const uesc = (s: string): string => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
  const mime = (text: string): string => Buffer.from(text).toString("base64").replace(/(.{76})/g, "$1\r\n");
  const joinedData = (sse: string): string => [...sse.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]).join("");

  // Each case: the body as the upstream sent it, and how a client reads it.
  const cases: [string, string, (out: string) => string][] = [
    ["one JSON \\u escape", `{"echo":"tok\\u002bAbC/dEf0123456789xyz=="}`, (o) => JSON.parse(o).echo],
    ["a fully \\u-escaped JSON string", `{"echo":"${uesc(TOKEN)}"}`, (o) => JSON.parse(o).echo],
    ["JSON with \\/ and one \\u", `{"echo":"tok+AbC\\/dEf0123456789xyz\\u003d="}`, (o) => JSON.parse(o).echo],
    ["partial percent-encoding, upper case", `https://cb.example/?t=tok%2BAbC/dEf0123456789xyz%3D%3D`, (o) => decodeURIComponent(o)],
    ["partial percent-encoding, lower case", `https://cb.example/?t=tok%2bAbC%2fdEf0123456789xyz%3d%3d`, (o) => decodeURIComponent(o)],
    ["percent-encoding of every byte", [...Buffer.from(TOKEN)].map((b) => `%${b.toString(16)}`).join(""), (o) => decodeURIComponent(o)],
    ["double percent-encoding", `t=${encodeURIComponent(encodeURIComponent(TOKEN))}`, (o) => decodeURIComponent(decodeURIComponent(o))],
    ["percent-encoding inside a JSON string with \\u escapes", `{"u":"?t=tok\\u00252BAbC/dEf0123456789xyz%3D%3D"}`, (o) => decodeURIComponent(JSON.parse(o).u)],
    ["HTML numeric entities", [...TOKEN].map((c) => `&#${c.charCodeAt(0)};`).join(""), (o) => o.replace(/&#(\d+);/g, (_m, d: string) => String.fromCharCode(Number(d)))],
    ["hex, lower case", Buffer.from(TOKEN).toString("hex"), (o) => Buffer.from(o, "hex").toString("latin1")],
    ["hex, upper case", Buffer.from(TOKEN).toString("hex").toUpperCase(), (o) => Buffer.from(o, "hex").toString("latin1")],
    ...[0, 1, 2].map((pad): [string, string, (o: string) => string] => [
      `MIME-wrapped base64 of an Authorization header (offset ${pad})`,
      mime(`${"x".repeat(pad)}Authorization: Bearer ${TOKEN}\r\nX-Other: ${"y".repeat(60)}`),
      (o) => Buffer.from(o.replace(/\s+/g, ""), "base64").toString("latin1"),
    ]),
    ["base64 wrapped with JSON-escaped line breaks", JSON.stringify({ pem: mime(`Bearer ${TOKEN}`).replace(/(.{20})/g, "$1\n") }), (o) => Buffer.from(JSON.parse(o).pem.replace(/\s+/g, ""), "base64").toString("latin1")],
    ["base64 of a percent-encoded URL", Buffer.from(`https://x/?t=${encodeURIComponent(TOKEN)}`).toString("base64"), (o) => decodeURIComponent(Buffer.from(o, "base64").toString("latin1"))],
  ];

  it.each(cases)("%s: the client cannot read the token back", (_name, text, read) => {
    expect(read(text), "the case really carries the token").toContain(TOKEN);
    const out = scrubBuffer(Buffer.from(text), forms).toString("latin1");
    let readBack = "";
    try {
      readBack = read(out);
    } catch {
      // An overwritten escape may leave the text undecodable: nothing to read back.
    }
    expect(readBack).not.toContain(TOKEN);
    expect(out).not.toContain(TOKEN);
  });

  it.each(cases)("%s, streamed and split at every byte offset: the same as whole", async (_name, text) => {
    const bytes = Buffer.from(text);
    const whole = scrubBuffer(bytes, forms).toString("latin1");
    for (let i = 1; i < bytes.length; i++) {
      const out: Buffer[] = [];
      for await (const c of Readable.from([bytes.subarray(0, i), bytes.subarray(i)]).pipe(new SecretScrubber(forms))) out.push(c as Buffer);
      expect(Buffer.concat(out).toString("latin1"), `split at ${i}`).toBe(whole);
    }
  });

  describe("an event stream", () => {
    const streams: [string, string][] = [
      ["cut across two events", `data: {"n":1}\n\ndata: tok+AbC/d\n\ndata: Ef0123456789xyz==\n\ndata: {"n":2}\n\n`],
      ["cut across data lines of one event", `event: x\ndata: tok+AbC/d\ndata: Ef0123456789xyz==\n\n`],
      ["cut across events with CRLF and no space", `data:tok+AbC/d\r\n\r\ndata:Ef0123\r\n\r\ndata:456789xyz==\r\n\r\n`],
      ["cut across an id and a data line", `id: tok+AbC\ndata: /dEf0123456789xyz==\n\n`],
    ];

    it.each(streams)("%s: the joined data never holds the token, and the framing stays", async (_name, text) => {
      expect(joinedData(text) + text.replace(/\s|data:|id:/g, "")).toContain(TOKEN);
      const bytes = Buffer.from(text);
      const whole = scrubBuffer(bytes, forms, { sse: true }).toString();
      expect(whole.replace(/[^\n]/g, "")).toBe(text.replace(/[^\n]/g, ""));
      expect(joinedData(whole)).not.toContain(TOKEN.slice(0, 8));
      expect(joinedData(whole)).not.toContain(TOKEN.slice(-8));
      for (let i = 1; i < bytes.length; i++) {
        const out: Buffer[] = [];
        for await (const c of Readable.from([bytes.subarray(0, i), bytes.subarray(i)]).pipe(new SecretScrubber(forms, false, { sse: true }))) out.push(c as Buffer);
        expect(Buffer.concat(out).toString(), `split at ${i}`).toBe(whole);
      }
    });

    it("an event that cannot start the token goes out at once; one that could waits for the next", async () => {
      const s = new SecretScrubber(forms, true, { sse: true });
      const seen: string[] = [];
      s.on("data", (c: Buffer) => seen.push(c.toString()));
      s.write(Buffer.from('data: {"n":1}\n\n'));
      await new Promise((r) => setImmediate(r));
      expect(seen.join("")).toBe('data: {"n":1}\n\n');
      s.write(Buffer.from("data: tok+AbC\n\n"));
      await new Promise((r) => setImmediate(r));
      expect(seen.join("")).not.toContain("tok+");
      s.end(Buffer.from('data: {"n":2}\n\n'));
      await new Promise((r) => s.on("end", r));
      expect(seen.join("")).toBe('data: {"n":1}\n\ndata: tok+AbC\n\ndata: {"n":2}\n\n');
    });
  });

  describe("must-allow: bodies without the token come through byte for byte", () => {
    const innocent = [
      `{"note":"caf\\u00e9 \\"quoted\\" \\/path \\ud83d\\ude00","url":"https://x.example/?q=a%20b%2Bc&r=%3d"}`,
      `<p>Tom &amp; Jerry &#8212; &#x2F;home &lt;b&gt; 50% off</p>`,
      Buffer.from(`Authorization: Bearer some-other-token-0123456789\r\n${"z".repeat(200)}`).toString("base64").replace(/(.{76})/g, "$1\r\n"),
      Buffer.from("not the token at all, just text").toString("hex"),
      `data: {"n":1}\n\nevent: tick\ndata: tok\ndata: en\n\n: keepalive\n\n`,
      "trailing escapes at the very end: \\u00 and %2 and &#1",
    ];
    it.each(innocent)("%s", async (text) => {
      const bytes = Buffer.from(text);
      expect(scrubBuffer(bytes, forms)).toEqual(bytes);
      expect(scrubBuffer(bytes, forms, { sse: true })).toEqual(bytes);
      for (let i = 1; i < bytes.length; i++) {
        for (const sse of [false, true]) {
          const out: Buffer[] = [];
          for await (const c of Readable.from([bytes.subarray(0, i), bytes.subarray(i)]).pipe(new SecretScrubber(forms, true, { sse }))) out.push(c as Buffer);
          expect(Buffer.concat(out).equals(bytes), `split at ${i}, sse ${sse}`).toBe(true);
        }
      }
    });
  });

  it("header values: percent-encoded in either case, and \\u-escaped", () => {
    const h: Record<string, string | string[]> = {
      location: "https://cb.example/?t=tok%2bAbC%2fdEf0123456789xyz%3d%3d",
      link: ["<https://x/?t=tok%2BAbC/dEf0123456789xyz%3D%3D>", "<https://x/ok%20fine>"],
      "x-json": '{"t":"tok\\u002BAbC\\/dEf0123456789xyz=="}',
      "x-ok": "a%20b",
    };
    expect(scrubHeaders(h, forms)).toBe(true);
    expect(decodeURIComponent(h.location as string)).not.toContain(TOKEN);
    expect(decodeURIComponent((h.link as string[])[0]!)).not.toContain(TOKEN);
    expect((h.link as string[])[1]).toBe("<https://x/ok%20fine>");
    expect(JSON.parse(h["x-json"] as string).t).not.toContain(TOKEN);
    expect(h["x-ok"]).toBe("a%20b");
  });
});

describe("hex and base64, spelled loosely", () => {
  const TOKEN = "tok+AbC/dEf0123456789xyz==";
  const forms = secretForms([TOKEN]);
  const hex = Buffer.from(TOKEN).toString("hex");
  const pairs = hex.match(/../g)!;
  const fromHex = (o: string): string => Buffer.from(o.replace(/0x|\\x/gi, "").replace(/[^0-9a-f]/gi, ""), "hex").toString("latin1");
  const fromB64 = (o: string): string => Buffer.from(o.replace(/[^A-Za-z0-9+/_-]/g, "").replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("latin1");
  const b64 = (text: string, enc: BufferEncoding = "base64"): string => Buffer.from(text).toString(enc);
  const cases: [string, string, (o: string) => string][] = [
    ["hex in mixed case", [...hex].map((c, i) => (i % 3 ? c : c.toUpperCase())).join(""), fromHex],
    ["hex pairs with colons", pairs.join(":"), fromHex],
    ["hex pairs with 0x and commas", pairs.map((p) => `0x${p}`).join(", "), fromHex],
    ["hex pairs with 0X, upper case", pairs.map((p) => `0X${p.toUpperCase()}`).join(","), fromHex],
    ["hex pairs with spaces", pairs.join(" "), fromHex],
    ["hex pairs with dashes", pairs.join("-"), fromHex],
    ["hex pairs as \\x escapes", pairs.map((p) => `\\x${p}`).join(""), fromHex],
    ["hex in a JSON string, spaced", JSON.stringify({ h: pairs.join(" ") }), (o) => fromHex(JSON.parse(o).h)],
    ["base64 wrapped at 4", b64(`Bearer ${TOKEN}`).replace(/(.{4})/g, "$1\n"), fromB64],
    ["base64 wrapped at 8 with CRLF", b64(`Bearer ${TOKEN}`).replace(/(.{8})/g, "$1\r\n"), fromB64],
    ["base64 split by spaces", b64(`Bearer ${TOKEN}`).replace(/(.{4})/g, "$1 "), fromB64],
    ...[0, 1, 2].map((pad): [string, string, (o: string) => string] => [`base64url at offset ${pad}`, `id=${b64(`${"x".repeat(pad)}${TOKEN}`, "base64url")}`, (o) => fromB64(o.slice(3))]),
    ...[1, 2].map((pad): [string, string, (o: string) => string] => [`base64 at offset ${pad}, spaced`, b64(`${"x".repeat(pad)}${TOKEN}`).replace(/(.{3})/g, "$1 "), fromB64]),
  ];

  it.each(cases)("%s: the client cannot read the token back", async (_name, text, read) => {
    expect(read(text), "the case really carries the token").toContain(TOKEN);
    const bytes = Buffer.from(text);
    const whole = scrubBuffer(bytes, forms).toString("latin1");
    let readBack = "";
    try {
      readBack = read(whole);
    } catch {
      // An overwritten form may leave the text undecodable: nothing to read back.
    }
    expect(readBack).not.toContain(TOKEN);
    for (let i = 1; i < bytes.length; i++) {
      const out: Buffer[] = [];
      for await (const c of Readable.from([bytes.subarray(0, i), bytes.subarray(i)]).pipe(new SecretScrubber(forms))) out.push(c as Buffer);
      expect(Buffer.concat(out).toString("latin1"), `split at ${i}`).toBe(whole);
    }
  });

  it("leaves other hex, numbers and base64 alone", () => {
    const text = `0x1F 0x7f, 12:34:56 de:ad:be:ef ${Buffer.from("not the token").toString("hex")} ${Buffer.from("nor this").toString("base64url")} 4111-1111-1111-1111 10.5`;
    expect(scrubBuffer(Buffer.from(text), forms).toString()).toBe(text);
  });
});

describe("response headers: the credential spread over names and values", () => {
  const TOKEN = "tok+AbC/dEf0123456789xyz==";
  const forms = secretForms([TOKEN]);
  const lower = "tokabcdef0123456789xyzlower";
  const lowerForms = secretForms([lower]);
  const pct = (s: string): string => [...Buffer.from(s)].map((b) => `%${b.toString(16)}`).join("");
  /**
   * Every way an agent could read headers: names decoded, values and their list elements joined, each
   * percent-decoded and read as hex.
   */
  const readings = (h: Record<string, unknown>): string => {
    const values = Object.values(h).flatMap((v) => [v ?? ""].flat().map(String));
    const elements = values.flatMap((v) => v.split(/,\s*/)).map((e) => decodeURIComponent(e));
    const hex = values.map((v) => Buffer.from(v.replace(/[^0-9a-f]/gi, ""), "hex").toString("latin1"));
    return [...Object.keys(h).map((k) => decodeURIComponent(k)), values.join(""), elements.join(""), ...hex].join("\n");
  };

  it.each([
    ["a percent-encoded name", lower, lowerForms, { [`x-t-${pct(lower)}`]: "1", "x-ok": "fine" }],
    ["two values of one header (an array)", TOKEN, forms, { "x-debug": [TOKEN.slice(0, 12), TOKEN.slice(12)], "x-ok": "fine" }],
    ["two values of one header, as Node joins them", TOKEN, forms, { "x-debug": `${TOKEN.slice(0, 12)}, ${TOKEN.slice(12)}`, "x-ok": "fine" }],
    ["two headers", TOKEN, forms, { "x-a": TOKEN.slice(0, 9), "x-b": TOKEN.slice(9), "x-ok": "fine" }],
    ["three values, one percent-encoded", TOKEN, forms, { "x-t": [encodeURIComponent(TOKEN.slice(0, 6)), TOKEN.slice(6, 16), TOKEN.slice(16)] }],
    ["hex pairs with colons", TOKEN, forms, { "x-debug": Buffer.from(TOKEN).toString("hex").match(/../g)!.join(":") }],
  ] as const)("%s", (_name, secret, f, h) => {
    const headers = structuredClone(h) as Record<string, string | string[]>;
    expect(readings(headers), "the case really carries it").toContain(secret);
    expect(scrubHeaders(headers, f)).toBe(true);
    expect(readings(headers)).not.toContain(secret);
    if ("x-ok" in h) expect(headers["x-ok"]).toBe("fine");
  });

  it("leaves lists, cookies-like values and percent-encoded names that are not the credential alone", () => {
    const h: Record<string, string | string[]> = { "x-list": "tok, AbC, dEf", link: ["<https://a/?q=%7A>", "<https://b/>"], "x-%41bc": "1", date: "Mon, 30 Nov 2026 13:00:00 GMT" };
    const before = structuredClone(h);
    expect(scrubHeaders(h, forms)).toBe(false);
    expect(h).toEqual(before);
  });
});

describe("a spelling stretched by whitespace (no bound in bytes of it: the view drops whitespace)", () => {
  const TOKEN = "tok+AbC/dEf0123456789xyz==";
  const forms = secretForms([TOKEN]);
  const run = async (chunks: Buffer[], sse = false): Promise<string> => {
    const out: Buffer[] = [];
    for await (const c of Readable.from(chunks).pipe(new SecretScrubber(forms, true, { sse }))) out.push(c as Buffer);
    return Buffer.concat(out).toString("latin1");
  };
  const chunked = (s: string, n: number): Buffer[] => Buffer.from(s).toString("latin1").match(new RegExp(`[^]{1,${n}}`, "g"))!.map((c) => Buffer.from(c, "latin1"));

  it.each([
    ["200 spaces between its characters", [...TOKEN].join(" ".repeat(200)), false],
    ["3000 line breaks in one place", `${TOKEN.slice(0, 12)}${"\r\n".repeat(1500)}${TOKEN.slice(12)}`, false],
    ["4000 blank lines between two events", `data: ${TOKEN.slice(0, 12)}\n${"\n".repeat(4000)}data: ${TOKEN.slice(12)}\n\n`, true],
    ["base64 with 300 spaces every 4 characters", Buffer.from(`Bearer ${TOKEN}`).toString("base64").replace(/(.{4})/g, `$1${" ".repeat(300)}`), false],
  ] as const)("%s", async (_name, text, sse) => {
    const squeeze = (o: string): string => o.replace(/\s+|data:/g, "");
    expect(squeeze(text) + Buffer.from(squeeze(text), "base64").toString("latin1")).toContain(TOKEN);
    for (const out of [scrubBuffer(Buffer.from(text), forms, { sse }).toString("latin1"), await run(chunked(text, 64), sse), await run(chunked(text, 1000), sse)]) {
      expect(out.length).toBe(text.length);
      expect(squeeze(out)).not.toContain(TOKEN.slice(0, 8));
      expect(Buffer.from(squeeze(out), "base64").toString("latin1")).not.toContain(TOKEN);
    }
  });

  it("past the most it holds (64 KiB), a long start of it is overwritten before it goes out, and the rest when it comes", async () => {
    const head = `${TOKEN.slice(0, 10)}${" ".repeat(70_000)}`;
    const out = await run([...chunked(head, 8192), Buffer.from(TOKEN.slice(10))]);
    expect(out.length).toBe(head.length + TOKEN.length - 10);
    expect(out.replace(/\s+/g, "")).toBe("*".repeat(TOKEN.length));
  });

  it("past it, a start shorter than four bytes goes out as it is, and the rest is overwritten when it comes", async () => {
    const head = `${TOKEN.slice(0, 3)}${" ".repeat(70_000)}`;
    const out = await run([...chunked(head, 8192), Buffer.from(TOKEN.slice(3))]);
    expect(out.replace(/\s+/g, "")).toBe(TOKEN.slice(0, 3) + "*".repeat(TOKEN.length - 3));
  });
});
