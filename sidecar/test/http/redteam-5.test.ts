// Fifth red-team pass over the HTTP path (response side): regate's route credential in the form the upstream
// actually holds it. A basic credential reaches the upstream as `Authorization: Basic <base64 of user:password>`;
// an upstream that echoes its request headers encoded once more (base64 of the header, as a request inspector,
// a webhook relay or a state token carries them; base64url of its JSON without padding; hex) hands the agent
// text that decodes twice to the password. The scrubber searched the encodings of `user:password` and of the
// password, never those of the base64 text the upstream received, so each such echo passed whole. A real
// upstream, a real gateway; the agent reads every header and the body and decodes base64, base64url and hex
// runs, up to three layers deep, as an agent would.

import { type IncomingMessage, type ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authed, maskingGateway, rawRequest, UPSTREAM_SECRET, type GatewayUnderTest, type RawResponse } from "./fixtures.js";

const USER = "svc-reporting";
const PASSWORD = `pw-${UPSTREAM_SECRET.slice(-16)}-basic`;
const PAIR = `${USER}:${PASSWORD}`;

/** The upstream: echoes the Authorization header it received, encoded as the path says. */
function echo(req: IncomingMessage, res: ServerResponse): void {
  const auth = req.headers.authorization ?? "";
  const kind = (req.url ?? "").split("/").pop();
  const json = (v: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(200, { "content-type": "application/json", ...headers }).end(JSON.stringify(v));
  };
  switch (kind) {
    case "b64":
      return json({ auth_b64: Buffer.from(auth).toString("base64") });
    case "b64url-headers":
      // A request-context token: base64url (no padding) of the request's headers as JSON.
      return json({ state: Buffer.from(JSON.stringify({ host: req.headers.host, authorization: auth })).toString("base64url") });
    case "hex":
      return json({ auth_hex: Buffer.from(auth).toString("hex") });
    case "header":
      return json({}, { "x-auth-b64": Buffer.from(auth).toString("base64") });
    case "plain":
      // Must-allow: base64 and hex that spell nothing of the credential.
      return json({ blob: Buffer.from("hello, plain world of bytes").toString("base64"), id: "9f86d081884c7d659a2feaa0c55ad015" });
    default:
      res.writeHead(404).end();
  }
}

/** Every text an agent can decode out of `text`: base64, base64url and hex runs, layer under layer. */
function decodedLayers(text: string, depth = 3): string[] {
  const out = [text];
  if (depth === 0) return out;
  for (const run of text.match(/[A-Za-z0-9+/_-]{12,}={0,2}/g) ?? []) {
    const decoded = [Buffer.from(run.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("latin1")];
    if (/^(?:[0-9a-f]{2})+$/i.test(run)) decoded.push(Buffer.from(run, "hex").toString("latin1"));
    for (const d of decoded) out.push(...decodedLayers(d, depth - 1));
  }
  return out;
}

/** Whether the agent can read the password (or user:password) out of what it received. */
function readsPassword(r: RawResponse): boolean {
  const text = JSON.stringify(r.headers) + r.body.toString("latin1");
  return decodedLayers(text).some((t) => t.includes(PASSWORD));
}

let upstream: { gw: GatewayUnderTest; close(): Promise<void> };

beforeAll(async () => {
  upstream = await maskingGateway(echo, { route: { credential: { type: "basic", value: PAIR } } });
});

afterAll(() => upstream.close());

const get = (path: string): Promise<RawResponse> => rawRequest(`${upstream.gw.url}${path}`, { headers: authed() });

describe("a basic credential echoed as the upstream received it, encoded once more", () => {
  // /n/ is only scrubbed (the streaming path), /f/ is masked by field rules, /d/ by detectors.
  const cases = ["n", "f", "d"].flatMap((scope) => ["b64", "b64url-headers", "hex", "header"].map((kind) => [`/${scope}/${kind}`] as const));

  it("is what the upstream received (the test's premise)", async () => {
    const r = await get("/n/plain");
    expect(r.status).toBe(200);
    expect(decodedLayers(Buffer.from(`Basic ${Buffer.from(PAIR).toString("base64")}`).toString("base64")).some((t) => t.includes(PASSWORD))).toBe(true);
  });

  it.each(cases)("never decodes to the password from %s", async (path) => {
    const r = await get(path);
    expect(r.status).toBe(200);
    expect(readsPassword(r)).toBe(false);
  });
});

describe("must-allow", () => {
  it.each(["/n/plain", "/f/plain", "/d/plain"])("base64 and hex that spell no credential pass byte for byte (%s)", async (path) => {
    const r = await get(path);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(JSON.stringify({ blob: Buffer.from("hello, plain world of bytes").toString("base64"), id: "9f86d081884c7d659a2feaa0c55ad015" }));
  });
});
