// Masked values must not reach the agent spelled another way (red-team pass 2, build/redteam2/q2.ts, F7/F8):
// percent-encoded or HTML-escaped values, fullwidth digits, and field names with fullwidth, zero-width or
// control characters. A real upstream, a real gateway, the bytes the agent receives, read every way a
// reader could read them.

import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACTED } from "../../src/mask/index.js";
import { authed, DETECTOR_RULES, FIELD_RULES, MASKED, maskingGateway, rawRequest, type GatewayUnderTest } from "./fixtures.js";

const SSN = MASKED.ssn;
const EMAIL = MASKED.email;

const FIELDS = FIELD_RULES;
const DETECTORS = DETECTOR_RULES;

const JSON_TYPE = "application/json";
/** Each resource: its content type and body as the upstream sends it. */
const BODIES: Record<string, [type: string, body: string]> = {
  "pct-email": [JSON_TYPE, JSON.stringify({ next: "https://x/?u=alice%40example.com" })],
  "pct2-email": [JSON_TYPE, JSON.stringify({ next: "https://x/?u=alice%2540example.com" })],
  "html-email": ["text/html", "<a>alice&#64;example.com</a>"],
  "html-hex-email": ["text/html", "<a>alice&#x40;example&#x2E;com</a>"],
  form: ["application/x-www-form-urlencoded", `data=${encodeURIComponent(JSON.stringify({ ssn: SSN }))}`],
  "fullwidth-digits": [JSON_TYPE, JSON.stringify({ note: "１２３-４５-６７８９" })],
  "zero-width-digits": [JSON_TYPE, JSON.stringify({ note: "123-45-67\u200b89" })],
  "fullwidth-key": [JSON_TYPE, `{"ｓｓｎ":"${SSN}","name":"Alice"}`],
  "zero-width-key": [JSON_TYPE, `{"s\u200bsn":"${SSN}","name":"Alice"}`],
  "nul-key": [JSON_TYPE, `{"ssn\\u0000":"${SSN}","name":"Alice"}`],
  "fullwidth-email-key": [JSON_TYPE, `{"ｅｍａｉｌ":"${EMAIL}","name":"Alice"}`],
};
/** Text that only looks encoded: it must pass byte for byte. */
const ORDINARY = '{"url":"https://x/a%20b?c=%2F&d=1","html":"&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;","name":"Zoë Ｔａｎａｋａ 日本語","n":1.50}';

function handle(req: IncomingMessage, res: ServerResponse): void {
  // /<rules>/<resource>[/chunked]: the first segment picks the rules (see the decider).
  const [, , name, chunked] = (req.url ?? "").split("?")[0]!.split("/");
  const entry = name === "ordinary" ? ([JSON_TYPE, ORDINARY] as const) : BODIES[name ?? ""];
  if (!entry) {
    res.writeHead(404).end();
    return;
  }
  const [type, body] = entry;
  const bytes = Buffer.from(body, "utf8");
  if (chunked) {
    // No length and two writes: the gateway masks the body as it streams.
    res.writeHead(200, { "content-type": type });
    res.write(bytes.subarray(0, 7));
    setImmediate(() => res.end(bytes.subarray(7)));
    return;
  }
  res.writeHead(200, { "content-type": type, "content-length": bytes.length }).end(bytes);
}

let gw: GatewayUnderTest;
let closeAll: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const started = await maskingGateway(handle);
  gw = started.gw;
  closeAll = started.close;
});

afterAll(async () => {
  await closeAll?.();
});

async function get(path: string): Promise<{ status: number; body: string }> {
  const r = await rawRequest(`${gw.url}${path}`, { headers: authed() });
  return { status: r.status, body: r.body.toString("utf8") };
}

/**
 * `text` as readers read it: as sent, percent-decoded, HTML-decoded, JSON-unescaped, NFKC-folded with
 * invisible characters dropped, and those combined, a few layers deep. Written apart from regate's own
 * decoder (text-views.ts), so that a bug there cannot hide here.
 */
function readings(text: string): string[] {
  const out = new Set<string>([text]);
  const pct = (s: string): string => s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  const html = (s: string): string =>
    s
      .replace(/&#[xX]([0-9A-Fa-f]+);?/g, (_m, h: string) => String.fromCodePoint(parseInt(h, 16)))
      .replace(/&#(\d+);?/g, (_m, d: string) => String.fromCodePoint(Number(d)))
      .replace(/&commat;/g, "@")
      .replace(/&amp;/g, "&");
  const json = (s: string): string => s.replace(/\\u([0-9A-Fa-f]{4})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  const seen = (s: string): string => s.normalize("NFKC").replace(/[\u0000-\u001f\u00ad\u200b-\u200f\u2060\ufeff]/g, "");
  let layer = [text];
  for (let depth = 0; depth < 3; depth++) {
    layer = layer.flatMap((s) => [pct(s), html(s), json(s), seen(s)]);
    for (const s of layer) out.add(s);
  }
  return [...out];
}

function expectUnreadable(body: string): void {
  for (const reading of readings(body)) {
    expect(reading).not.toContain(SSN);
    expect(reading).not.toContain(EMAIL);
    // Field names read as the rule's name: the value they held must be gone, whatever the key's spelling.
    expect(reading).not.toMatch(/ssn\W{0,4}123/i);
  }
}

/** Values in fields no rule names: only detectors can find them (field rules leave them to the policy). */
const VALUES = ["pct-email", "pct2-email", "html-email", "html-hex-email", "form", "fullwidth-digits", "zero-width-digits"];
/** Fields named by look-alike keys, and bodies that are not JSON (refused under field rules). */
const NAMES = ["fullwidth-key", "zero-width-key", "nul-key", "fullwidth-email-key", "form", "html-email"];

describe.each([
  ["detector rules", "d", [...VALUES, ...NAMES.filter((n) => !VALUES.includes(n))]],
  ["field rules", "f", NAMES],
])("under %s the agent never receives the values", (_rules, m, names) => {
  it.each(names.flatMap((n) => [[n, ""], [n, "/chunked"]]))("%s%s", async (name, chunked) => {
    const r = await get(`/${m}/${name}${chunked}`);
    // Under field rules a body that is not JSON is refused: that, too, keeps the value from the agent.
    if (r.status === 200) expect(r.body).toContain(REDACTED);
    else expect(m === "f" && !BODIES[name]![0].includes("json")).toBe(true);
    expectUnreadable(r.body);
  });
});

describe("what the masks find is masked in place", () => {
  it.each([
    ["pct-email", `{"next":"https://x/?u=${REDACTED}"}`],
    ["html-email", `<a>${REDACTED}</a>`],
    ["form", `data=%7B%22ssn%22%3A%22${REDACTED}%22%7D`],
    ["fullwidth-digits", `{"note":"${REDACTED}"}`],
  ])("detectors: %s", async (name, expected) => {
    expect((await get(`/d/${name}`)).body).toBe(expected);
  });

  it.each([
    ["fullwidth-key", `{"ｓｓｎ":"${REDACTED}","name":"Alice"}`],
    ["zero-width-key", `{"s\u200bsn":"${REDACTED}","name":"Alice"}`],
    ["nul-key", `{"ssn\\u0000":"${REDACTED}","name":"Alice"}`],
  ])("fields: %s keeps its key and loses its value", async (name, expected) => {
    expect((await get(`/f/${name}`)).body).toBe(expected);
    expect((await get(`/f/${name}/chunked`)).body).toBe(expected);
  });
});

describe("text that only looks encoded", () => {
  it.each(["d", "f"])("passes byte for byte under /%s", async (m) => {
    expect((await get(`/${m}/ordinary`)).body).toBe(ORDINARY);
    expect((await get(`/${m}/ordinary/chunked`)).body).toBe(ORDINARY);
  });

  it("unmasked routes pass the encoded values untouched", async () => {
    expect((await get("/n/pct-email")).body).toBe(BODIES["pct-email"]![1]);
  });
});
