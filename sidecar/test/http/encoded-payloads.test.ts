// Text the agent decodes in one call but regate did not (red team): an MCP resource `blob` of gzip- or
// zlib-compressed text, a blob of UTF-16 text, JSON written as hex in a tool result's `text`, and base64 or
// hex too large to decode, a gzip file's bytes as a Node Buffer's JSON. A real upstream, a real gateway, the
// bytes the agent receives, decoded as the agent would. Must-allow: images (one past the decode cap), PDFs,
// compressed binary and hex ids pass byte for byte.

import type { IncomingMessage, ServerResponse } from "node:http";
import { deflateSync, gunzipSync, gzipSync, inflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACTED } from "../../src/mask/index.js";
import { authed, MASKED, maskingGateway, rawRequest, type GatewayUnderTest } from "./fixtures.js";

const { ssn: SSN, email: EMAIL } = MASKED;
const RECORD = JSON.stringify({ name: "Alice", ssn: SSN, email: EMAIL, note: `reach me at ${EMAIL}, SSN ${SSN}` });

const b64 = (b: Buffer): string => b.toString("base64");
const utf16be = (s: string): Buffer => Buffer.from(s, "utf16le").swap16();
const bom = (b: number[], body: Buffer): Buffer => Buffer.concat([Buffer.from(b), body]);

const resource = (mimeType: string, blob: string): string =>
  JSON.stringify({ jsonrpc: "2.0", id: 1, result: { contents: [{ uri: "file:///data/record", mimeType, blob }] } });
const toolText = (text: string): string => JSON.stringify({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text }] } });

/** How the agent reads each payload back to text. */
type Read = (body: string) => string;
const blobOf = (body: string): Buffer => Buffer.from((JSON.parse(body) as { result: { contents: { blob: string }[] } }).result.contents[0]!.blob, "base64");
const textOf = (body: string): string => (JSON.parse(body) as { result: { content: { text: string }[] } }).result.content[0]!.text;
/** Hex written back in the case it came in. */
const upperHex = (s: string): string => {
  expect(s).toMatch(/^[0-9A-F]+$/);
  return s;
};
const readUtf16be = (b: Buffer): string => Buffer.from(b).swap16().toString("utf16le");

/** Each leaking payload: the body the upstream sends, and how the agent reads the text it carries. */
const LEAKS: Record<string, [body: string, read: Read]> = {
  "gzip-blob": [resource("application/gzip", b64(gzipSync(RECORD))), (b) => gunzipSync(blobOf(b)).toString()],
  "zlib-blob": [resource("application/zlib", b64(deflateSync(RECORD))), (b) => inflateSync(blobOf(b)).toString()],
  "gzip-of-gzip-blob": [resource("application/gzip", b64(gzipSync(gzipSync(RECORD)))), (b) => gunzipSync(gunzipSync(blobOf(b))).toString()],
  "utf16le-bom-blob": [resource("text/plain", b64(bom([0xff, 0xfe], Buffer.from(RECORD, "utf16le")))), (b) => blobOf(b).subarray(2).toString("utf16le")],
  "utf16le-blob": [resource("text/plain", b64(Buffer.from(RECORD, "utf16le"))), (b) => blobOf(b).toString("utf16le")],
  "utf16be-bom-blob": [resource("text/plain", b64(bom([0xfe, 0xff], utf16be(RECORD)))), (b) => readUtf16be(blobOf(b).subarray(2))],
  "gzip-utf16-blob": [resource("application/gzip", b64(gzipSync(Buffer.from(RECORD, "utf16le")))), (b) => gunzipSync(blobOf(b)).toString("utf16le")],
  "gzip-buffer": [
    JSON.stringify({ jsonrpc: "2.0", id: 1, result: { file: gzipSync(RECORD).toJSON() } }),
    (b) => gunzipSync(Buffer.from((JSON.parse(b) as { result: { file: { data: number[] } } }).result.file.data)).toString(),
  ],
  "hex-json": [toolText(Buffer.from(RECORD).toString("hex")), (b) => Buffer.from(textOf(b), "hex").toString()],
  "hex-json-upper": [toolText(Buffer.from(RECORD).toString("hex").toUpperCase()), (b) => Buffer.from(upperHex(textOf(b)), "hex").toString()],
};

/** Text regate cannot read whole: refused under any mask rule. */
const FILLER = "lorem ipsum dolor sit amet ".repeat(200_000); // 5.4 MB of text
const WORDS = Array.from({ length: 3000 }, (_v, i) => `w${(i * 7919) % 10007}`).join(" ");
const REFUSED: Record<string, string> = {
  "large-base64-text": resource("text/plain", b64(Buffer.from(`${FILLER}${RECORD}`))),
  "large-hex-text": toolText(Buffer.from(`${FILLER.slice(0, 2_200_000)}${RECORD}`).toString("hex")),
  "gzip-past-cap": resource("application/gzip", b64(gzipSync(`${FILLER}${RECORD}`))),
  "gzip-three-deep": resource("application/gzip", b64(gzipSync(gzipSync(gzipSync(RECORD))))),
  "gzip-cut-short": resource("application/gzip", b64(gzipSync(`${WORDS}${RECORD}`).subarray(0, 600))),
};

// Binary: a PNG, a PDF (with the binary marker line its writers put second), gzip of random bytes, a large
// JPEG-like image past the decode cap, and hex ids and hashes.
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452000000100000001008060000001ff3ff61", "hex"), Buffer.alloc(48, 0x9c)]);
const PDF = Buffer.concat([Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "latin1"), deflateSync(Buffer.alloc(400, 7))]);
const NOISE = Buffer.from(Array.from({ length: 3000 }, (_v, i) => (i * 7919 + 13) % 251));
const BIG_IMAGE = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(6_000_000, 0xa5)]);
const ALLOWED: Record<string, string> = {
  "png-blob": resource("image/png", b64(PNG)),
  "pdf-blob": resource("application/pdf", b64(PDF)),
  "gzip-binary-blob": resource("application/gzip", b64(gzipSync(NOISE))),
  "large-image-blob": resource("image/jpeg", b64(BIG_IMAGE)),
  "hex-ids": JSON.stringify({ sha: "6dcb09b5b57875f334f61aebed695e2e4193db5e", sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", colour: "f29513" }),
  "hex-of-plain-text": toolText(Buffer.from("a note with nothing to hide in it").toString("hex")),
  "gzip-plain-text": resource("application/gzip", b64(gzipSync("a note with nothing to hide in it"))),
};

function handle(req: IncomingMessage, res: ServerResponse): void {
  // /<rules>/<payload>[/chunked]: the first segment picks the rules (fixtures.ts maskingGateway).
  const [, , name, chunked] = (req.url ?? "").split("?")[0]!.split("/");
  const body = LEAKS[name ?? ""]?.[0] ?? REFUSED[name ?? ""] ?? ALLOWED[name ?? ""];
  if (body === undefined) {
    res.writeHead(404).end();
    return;
  }
  const bytes = Buffer.from(body, "utf8");
  if (chunked) {
    // No length and two writes: the gateway masks the body as it streams.
    res.writeHead(200, { "content-type": "application/json" });
    res.write(bytes.subarray(0, 7));
    setImmediate(() => res.end(bytes.subarray(7)));
    return;
  }
  res.writeHead(200, { "content-type": "application/json", "content-length": bytes.length }).end(bytes);
}

let gw: GatewayUnderTest;
let closeAll: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const started = await maskingGateway(handle, { limits: { max_body_bytes: 64 * 1024, max_input_body_bytes: 8 * 1024, timeout_ms: 20_000 } });
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

const VARIANTS = ["", "/chunked"];

describe.each([
  ["detector rules", "d"],
  ["field rules", "f"],
])("under %s", (_rules, m) => {
  it.each(Object.keys(LEAKS).flatMap((n) => VARIANTS.map((v) => [n, v])))("%s%s is masked where the agent decodes it", async (name, variant) => {
    const r = await get(`/${m}/${name}${variant}`);
    expect(r.status).toBe(200);
    const text = LEAKS[name]![1](r.body);
    const record = JSON.parse(text) as Record<string, string>;
    expect(record.ssn).toBe(REDACTED);
    expect(record.email).toBe(REDACTED);
    // Detectors find the values anywhere in the text; field rules leave `note` to the policy.
    if (m === "d") expect(text).not.toMatch(new RegExp(`${SSN}|${EMAIL}`));
    // What no mask touched reads as it was sent.
    expect(record.name).toBe("Alice");
  });

  it.each(Object.keys(REFUSED).flatMap((n) => VARIANTS.map((v) => [n, v])))("%s%s is refused", async (name, variant) => {
    const r = await get(`/${m}/${name}${variant}`);
    expect(r.status).toBe(403);
    expect(r.body).toContain("MASK_LINEAGE_UNKNOWN");
    expect(r.body).not.toContain(b64(Buffer.from(SSN)).slice(0, 12));
  });

  it.each(Object.keys(ALLOWED).flatMap((n) => VARIANTS.map((v) => [n, v])))("must allow: %s%s passes byte for byte", async (name, variant) => {
    const r = await get(`/${m}/${name}${variant}`);
    expect(r.status).toBe(200);
    expect(r.body).toBe(ALLOWED[name]);
  });
});
