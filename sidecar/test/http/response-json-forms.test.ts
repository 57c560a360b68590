// Values an agent reads out of bodies that are not one plain JSON document (fifth red-team pass, response
// side): JSON escapes in bodies regate reads as text (a JSON string served as text/plain, JSONP),
// newline-delimited JSON and JSON text sequences, JSON behind an anti-XSSI prefix, MIME parts in base64 or
// quoted-printable, and base64 in JSON strings (a JWT's claims, a raw mail message). Before, detectors missed the escaped and encoded values, and field rules refused the rest. A real upstream; /f/ masks with field rules, /d/ with detectors.

import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACTED } from "../../src/mask/index.js";
import { authed, MASKED, maskingGateway, rawRequest, type GatewayUnderTest } from "./fixtures.js";

const { ssn: SSN, email: EMAIL } = MASKED;
const CUSTOMER = { id: 1, ssn: SSN, email: EMAIL, n: 1.5 };
const MASKED_CUSTOMER = JSON.stringify(CUSTOMER).replace(SSN, REDACTED).replace(EMAIL, REDACTED);
/** Written by hand: a blank line, a CRLF and an integer past 2^53, as real NDJSON writers send them. */
const NDJSON = `{"i":1,"ssn":"${SSN}"}\n\n{"i":2,"name":"Zoë"}\r\n{"i":3,"n":12345678901234567890}\n`;

const MIME_8BIT = `--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\nwrite to ${EMAIL}\r\n--b--\r\n`;

/** Values in base64: an OIDC id_token naming the user, and a mail API's raw message (Gmail's `raw`). */
const jwt = (claims: object): string => `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2lnbmF0dXJl`;
const BASE64_DOC = { id_token: jwt({ sub: "u1", email: EMAIL }), raw: Buffer.from(`To: ${EMAIL}\r\nSubject: ssn ${SSN}\r\n\r\nhi`).toString("base64url"), etag: "3f2a9c1e7b4d4a0f9e8d7c6b5a493827" };

let nextLine: (() => void) | undefined;

function handle(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const name = (req.url ?? "").split("?")[0]!.split("/").pop()!;
  const send = (headers: Record<string, string>, body: string | Buffer): void => void res.writeHead(200, headers).end(body);
  if (name === "typed") {
    // JSON under the type a framework gives it by default or by mistake (`none`: no Content-Type at all).
    const q = new URLSearchParams((req.url ?? "").split("?")[1]);
    const type = q.get("type")!;
    res.writeHead(200, type === "none" ? {} : { "content-type": type });
    if (q.has("chunked")) {
      res.write(JSON.stringify(CUSTOMER).slice(0, 9));
      setImmediate(() => res.end(JSON.stringify(CUSTOMER).slice(9)));
    } else res.end(JSON.stringify(CUSTOMER));
    return;
  }
  switch (name) {
    case "text-escaped":
      return send({ "content-type": "text/plain" }, `"alice\\u0040example.com has \\u0031\\u0032\\u0033-45-6789"`);
    case "jsonp-escaped":
      return send({ "content-type": "application/javascript" }, `cb({"note":"alice\\x40example.com, \\u{31}23-45-6789"})`);
    case "text-ordinary-escapes":
      return send({ "content-type": "text/plain" }, `path C:\\temp\\new, "quoted \\"x\\"", tab\\there`);
    case "ndjson":
      return send({ "content-type": "application/x-ndjson" }, NDJSON);
    case "ndjson-escaped":
      return send({ "content-type": "application/x-ndjson" }, `{"a":1}\n{"note":"alice\\u0040example.com"}\n`);
    case "mime-qp":
      // A mail API's raw message (Graph's /messages/{id}/$value): quoted-printable spells "@" as =40.
      return send({ "content-type": "message/rfc822" }, `From: a@b.example\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nwrite to alice=40example.com, ssn 123-45-=\r\n6789\r\n`);
    case "mime-base64":
      return send({ "content-type": "multipart/mixed; boundary=b" }, `--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from(`${EMAIL} ${SSN}`).toString("base64")}\r\n--b--\r\n`);
    case "mime-8bit":
      return send({ "content-type": "multipart/mixed; boundary=b" }, MIME_8BIT);
    case "base64":
      return send({ "content-type": "application/json" }, JSON.stringify(BASE64_DOC));
    case "k8s-watch": {
      // kube-apiserver's watch: one JSON event per line, chunked, typed application/json;stream=watch.
      res.writeHead(200, { "content-type": "application/json;stream=watch" });
      res.write(`${JSON.stringify({ type: "ADDED", object: { ssn: SSN } })}\n`);
      setImmediate(() => res.end(`${JSON.stringify({ type: "MODIFIED", object: { email: EMAIL } })}\n`));
      return;
    }
    case "stream-json":
      return send({ "content-type": "application/stream+json" }, NDJSON);
    case "json-seq":
      return send({ "content-type": "application/json-seq" }, `\x1e${JSON.stringify({ ssn: SSN })}\n\x1e${JSON.stringify({ ok: true })}\n`);
    case "ndjson-text-line":
      return send({ "content-type": "application/x-ndjson" }, `{"a":1}\nssn=${SSN}\n`);
    case "xssi":
      return send({ "content-type": "application/json; charset=UTF-8" }, `)]}'\n${JSON.stringify(CUSTOMER)}`);
    case "xssi-while":
      return send({ "content-type": "text/javascript" }, `while(1);${JSON.stringify(CUSTOMER)}`);
    case "xssi-chunked": {
      // Gerrit's shape, streamed: the prefix and the document in separate writes, no length.
      res.writeHead(200, { "content-type": "application/json; charset=UTF-8" });
      res.write(")]}");
      setImmediate(() => res.end(`'\n${JSON.stringify(CUSTOMER)}`));
      return;
    }
    case "ndjson-stream": {
      // Chunked, the second line only once the agent has the first: the lines must not be held back.
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.write(`${JSON.stringify({ i: 1, ssn: SSN })}\n`);
      nextLine = () => res.end(`${JSON.stringify({ i: 2, email: EMAIL })}\n`);
      return;
    }
    default:
      res.writeHead(404).end();
  }
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

const get = async (path: string) => {
  const r = await rawRequest(`${gw.url}${path}`, { headers: authed() });
  return { ...r, text: r.body.toString("utf8") };
};

describe("must-allow: JSON under any type a framework gives it is masked", () => {
  const TYPES = ["text/plain", "text/html", "application/octet-stream", "none", "application/problem+json", "application/vnd.api+json", "application/hal+json; charset=utf-8"];
  it.each(TYPES.flatMap((t) => [[t, ""], [t, "&chunked"]]))("%s%s", async (type, chunked) => {
    for (const m of ["f", "d"]) {
      const r = await get(`/${m}/typed?type=${encodeURIComponent(type)}${chunked}`);
      expect(r.status).toBe(200);
      expect(r.text).toBe(MASKED_CUSTOMER);
    }
  });
});

describe("JSON escapes in bodies regate reads as text, under detector rules", () => {
  it.each([
    ["text-escaped", `"${REDACTED} has ${REDACTED}"`],
    ["jsonp-escaped", `cb({"note":"${REDACTED}, ${REDACTED}"})`],
  ])("%s: what a JSON or JavaScript reader decodes is masked where it was spelled", async (name, expected) => {
    const r = await get(`/d/${name}`);
    expect(r.status).toBe(200);
    expect(r.text).toBe(expected);
  });

  it("ordinary backslashes pass byte for byte", async () => {
    const r = await get("/d/text-ordinary-escapes");
    expect(r.text).toBe(`path C:\\temp\\new, "quoted \\"x\\"", tab\\there`);
  });
});

describe("JSON behind an anti-XSSI prefix (Gerrit, Angular, Google APIs) is masked, the prefix kept", () => {
  it.each([
    ["xssi", `)]}'\n${MASKED_CUSTOMER}`],
    ["xssi-chunked", `)]}'\n${MASKED_CUSTOMER}`],
    ["xssi-while", `while(1);${MASKED_CUSTOMER}`],
  ])("%s", async (name, expected) => {
    for (const m of ["f", "d"]) {
      const r = await get(`/${m}/${name}`);
      expect(r.status).toBe(200);
      expect(r.text).toBe(expected);
    }
  });
});

describe("newline-delimited JSON is masked line by line", () => {
  it("NDJSON under field rules: each line masked in place, blank lines, CRLF and big numbers kept", async () => {
    const r = await get("/f/ndjson");
    expect(r.status).toBe(200);
    expect(r.text).toBe(NDJSON.replace(SSN, REDACTED));
  });

  it("Spring WebFlux's application/stream+json is read the same way", async () => {
    const r = await get("/f/stream-json");
    expect(r.status).toBe(200);
    expect(r.text).toBe(NDJSON.replace(SSN, REDACTED));
  });

  it("a Kubernetes watch (application/json;stream=watch) is masked event by event", async () => {
    const r = await get("/f/k8s-watch");
    expect(r.status).toBe(200);
    expect(r.text).toBe(`{"type":"ADDED","object":{"ssn":"${REDACTED}"}}\n{"type":"MODIFIED","object":{"email":"${REDACTED}"}}\n`);
  });

  it("NDJSON under detector rules: escaped values masked too", async () => {
    const r = await get("/d/ndjson-escaped");
    expect(r.text).toBe(`{"a":1}\n{"note":"${REDACTED}"}\n`);
  });

  it("a JSON text sequence (RFC 7464) keeps its record separators", async () => {
    const r = await get("/f/json-seq");
    expect(r.status).toBe(200);
    expect(r.text).toBe(`\x1e{"ssn":"${REDACTED}"}\n\x1e{"ok":true}\n`);
  });

  it("a line that is not JSON under field rules is refused", async () => {
    const r = await get("/f/ndjson-text-line");
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN" });
    expect(r.text).not.toContain(SSN);
  });

  it("a streamed answer is not held back: each line reaches the agent masked before the next is written", async () => {
    const res = await fetch(`${gw.url}/f/ndjson-stream`, { headers: authed() });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe(`{"i":1,"ssn":"${REDACTED}"}\n`);
    nextLine!();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
    expect(rest).toBe(`{"i":2,"email":"${REDACTED}"}\n`);
  });
});

describe("MIME bodies under detector rules", () => {
  it.each(["mime-qp", "mime-base64"])("%s: parts a mail reader decodes are refused", async (name) => {
    const r = await get(`/d/${name}`);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN", reason: expect.stringContaining("base64 or quoted-printable") });
    expect(r.text).not.toContain("alice");
  });

  it("must-allow: an 8bit part is masked as text, the rest kept", async () => {
    const r = await get("/d/mime-8bit");
    expect(r.status).toBe(200);
    expect(r.text).toBe(MIME_8BIT.replace(EMAIL, REDACTED));
  });
});

describe("values carried in base64 inside JSON strings", () => {
  const decoded = (v: string): string => v.split(".").map((seg) => Buffer.from(seg, "base64url").toString()).join(".");

  it("detectors read the decoded text: the JWT's claims and the raw message are masked, encoded back", async () => {
    const r = await get("/d/base64");
    expect(r.status).toBe(200);
    const doc = JSON.parse(r.text) as typeof BASE64_DOC;
    expect(decoded(doc.id_token)).toContain(`"email":"${REDACTED}"`);
    expect(doc.id_token.split(".")[0]).toBe("eyJhbGciOiJSUzI1NiJ9");
    expect(decoded(doc.raw)).toBe(`To: ${REDACTED}\r\nSubject: ssn ${REDACTED}\r\n\r\nhi`);
    expect(doc.etag).toBe(BASE64_DOC.etag);
  });

  it("field rules reach a field of the JWT's claims", async () => {
    const r = await get("/f/base64");
    const doc = JSON.parse(r.text) as typeof BASE64_DOC;
    expect(decoded(doc.id_token)).toContain(`"email":"${REDACTED}"`);
    expect(decoded(doc.id_token)).toContain('"sub":"u1"');
  });
});
