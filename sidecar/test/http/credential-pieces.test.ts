// The route credential cut into pieces an agent joins back, or spelled loosely (third red-team pass on the
// leak guard, build/redteam-leak2): JSON values of stream events, NDJSON lines and arrays (the real
// chat-completion shape, with id and model between the pieces), hex with separators or mixed case, base64
// wrapped narrow or spaced, a spelling stretched by whitespace, and response headers (a percent-encoded name,
// two values of one header, two headers). A raw upstream writes every piece as its own chunk, a little apart,
// plain and compressed (flushed after each piece). What the agent receives is read every way an agent could.

import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { constants, createBrotliCompress, createGzip } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { allLogs, authed, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest, type RawResponse } from "./fixtures.js";

/** Lower case (header names are read lower-cased), with "-" for a percent-encoder to leave alone. */
const TOKEN = UPSTREAM_SECRET;
const halves = [TOKEN.slice(0, 12), TOKEN.slice(12)];
const pieces = (s: string, n: number): string[] => s.match(new RegExp(`.{1,${n}}`, "gs"))!;
const hexPairs = Buffer.from(TOKEN).toString("hex").match(/../g)!;
const b64 = Buffer.from(`Bearer ${TOKEN}`).toString("base64");

interface Piecewise {
  status?: string;
  headers: string[];
  pieces: string[];
  /** Each piece after the first waits for the agent to have the one before (see `gate`), not for a timer. */
  gated?: boolean;
}
const SSE = "Content-Type: text/event-stream";
const J = "Content-Type: application/json";
const TEXT = "Content-Type: text/plain";
const delta = (content: string, i: number): string =>
  `data: ${JSON.stringify({ id: "chatcmpl-9xYz", object: "chat.completion.chunk", created: 1700000000 + i, model: "gpt-4o-mini", choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }] })}\n\n`;

const ANSWERS: Record<string, Piecewise> = {
  "sse-json": { headers: [SSE], pieces: halves.map((p) => `data: {"d":"${p}"}\n\n`) },
  "sse-deltas": { headers: [SSE], pieces: [...pieces(TOKEN, 3).map(delta), "data: [DONE]\n\n"] },
  "sse-pings": { headers: [SSE], pieces: pieces(TOKEN, 4).flatMap((p) => [`event: content_block_delta\ndata: {"delta":{"type":"text_delta","text":"${p}"}}\n\n`, `event: ping\ndata: {"type": "ping"}\n\n`]) },
  ndjson: { headers: ["Content-Type: application/x-ndjson"], pieces: halves.map((p) => `{"d":"${p}"}\n`) },
  jsonl: { headers: ["Content-Type: application/jsonl"], pieces: pieces(TOKEN, 5).map((p, i) => `{"i":${i},"d":"${p}"}\n`) },
  array: { headers: [J], pieces: [`["${halves[0]}",`, `"${halves[1]}"]`] },
  "error-frames": { status: "500 Internal Server Error", headers: [J], pieces: [`{"error":{"frames":[`, pieces(TOKEN, 6).map((p) => `"${p}"`).join(","), "]}}"] },
  "hex-colons": { headers: [TEXT], pieces: [hexPairs.slice(0, 9).join(":") + ":", hexPairs.slice(9).join(":")] },
  "hex-0x": { headers: [J], pieces: [JSON.stringify({ bytes: hexPairs.map((p) => `0x${p.toUpperCase()}`).join(", ") })] },
  "hex-mixed": { headers: [TEXT], pieces: [[...hexPairs.join("")].map((c, i) => (i % 3 ? c : c.toUpperCase())).join("")] },
  "hex-spaced": { headers: [TEXT], pieces: [hexPairs.join(" ")] },
  "b64-narrow": { headers: [TEXT], pieces: pieces(b64.replace(/(.{8})/g, "$1\n"), 20) },
  "b64-spaced": { headers: [TEXT], pieces: [b64.replace(/(.{4})/g, "$1 ")] },
  stretched: { headers: [TEXT], pieces: pieces([...TOKEN].join(" ".repeat(200)), 1000) },
  "sse-blank-lines": { headers: [SSE], pieces: [`data: ${halves[0]}\n`, "\n".repeat(4000), `data: ${halves[1]}\n\n`] },
  "header-name": { headers: [J, `X-T-${[...TOKEN].map((c) => `%${c.charCodeAt(0).toString(16)}`).join("")}: 1`], pieces: ["{}"] },
  "header-values": { headers: [J, `X-Debug: ${halves[0]}`, `X-Debug: ${halves[1]}`], pieces: ["{}"] },
  "header-two": { headers: [J, `X-A: ${halves[0]}`, `X-B: ${halves[1]}`], pieces: ["{}"] },
};
const INNOCENT: Record<string, Piecewise> = {
  deltas: { headers: [SSE], pieces: [...["The", " quick", " up", "stream", " 0x7f", " 75:70"].map(delta), "data: [DONE]\n\n"] },
  // " ups" ends in three bytes of the credential: fewer than the four a JSON join waits for.
  "deltas-gated": { headers: [SSE], pieces: [...["The", " quick", " ups", "ide", " tok", "en", " 0x7f"].map(delta), "data: [DONE]\n\n"], gated: true },
  ndjson: { headers: ["Content-Type: application/x-ndjson"], pieces: ["up", "str", "eam", "-sec"].map((t, i) => `{"i":${i},"t":"${t}","n":12345678901234567890}\n`) },
  json: { headers: [J, "X-List: a, b, c", "Link: <https://a/?q=%75%70>, <https://b/>", "X-Hex: de:ad:be:ef"], pieces: [JSON.stringify({ hex: "0x75, 0x70, 0x73", b64: Buffer.from("not the token").toString("base64").replace(/(.{4})/g, "$1 "), n: 1.5e300 })] },
};

type Encoding = "identity" | "gzip" | "br";

/** Opens the way for a gated answer's next piece (set while the upstream waits for one). */
let gate: (() => void) | undefined;

/** Writes `a` chunked, a piece per chunk 15 ms apart; compressed, flushed after each piece. */
function write(sock: Socket, a: Piecewise, enc: Encoding): void {
  const headers = [...a.headers, "Transfer-Encoding: chunked", ...(enc === "identity" ? [] : [`Content-Encoding: ${enc}`])];
  sock.write(`HTTP/1.1 ${a.status ?? "200 OK"}\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`);
  const chunk = (b: Buffer): void => {
    if (b.length > 0) sock.write(Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n")]));
  };
  const z = enc === "gzip" ? createGzip() : enc === "br" ? createBrotliCompress() : undefined;
  z?.on("data", chunk);
  z?.on("end", () => sock.write("0\r\n\r\n"));
  const send = (i: number): void => {
    // Each piece is sent once: an agent that reads another event after the last must not send it again.
    gate = undefined;
    const last = i === a.pieces.length - 1;
    if (!z) {
      chunk(Buffer.from(a.pieces[i]!));
      if (last) sock.write("0\r\n\r\n");
    } else {
      z.write(a.pieces[i]!);
      z.flush(enc === "br" ? constants.BROTLI_OPERATION_FLUSH : constants.Z_SYNC_FLUSH);
      if (last) z.end();
    }
    if (!last && a.gated) gate = () => send(i + 1);
  };
  if (a.gated) send(0);
  else a.pieces.forEach((_p, i) => setTimeout(() => send(i), 15 * i));
}

let upstream: Server;
const gateways: Record<string, GatewayUnderTest> = {};

beforeAll(async () => {
  upstream = createServer((sock) => {
    let buf = "";
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [, set, name, enc] = (/^\S+ (\S+)/.exec(buf)?.[1] ?? "").split("/");
      buf = buf.slice(end + 4);
      const a = (set === "innocent" ? INNOCENT : ANSWERS)[name ?? ""];
      if (a) write(sock, a, (enc as Encoding | undefined) ?? "identity");
      else sock.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    });
    sock.on("error", () => {});
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const credential = { type: "bearer" as const, value: TOKEN };
  gateways.streaming = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: url, credential }], decider: new TestRulesDecider(() => ({})) });
  const store = new PolicyStore(BUNDLE);
  await store.load();
  gateways.masking = await startGateway({
    routes: [{ name: "api", prefix: "/", upstream: url, credential }],
    decider: new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] }),
  });
});

afterAll(async () => {
  for (const g of Object.values(gateways)) await g.close();
  await new Promise((r) => upstream.close(r));
});

/**
 * A GET through the gateway; a response cut short resolves with what arrived. `onData` sees the body so far
 * at each chunk; a response that stops coming for 3 s resolves too.
 */
async function get(g: string, path: string, onData?: (body: string) => void): Promise<RawResponse> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(`${gateways[g]!.url}${path}`, { headers: authed({ "accept-encoding": "gzip, br" }), agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const done = (): void => {
        clearTimeout(stalled);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      };
      const stalled = setTimeout(() => {
        res.destroy();
        done();
      }, 3000);
      res.on("data", (c: Buffer) => {
        chunks.push(c);
        stalled.refresh();
        onData?.(Buffer.concat(chunks).toString("latin1"));
      });
      res.on("end", done);
      res.on("aborted", done);
      res.on("error", done);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Strings and numbers in order, values in order, and the values of each path and of each key name. */
function joins(docs: unknown[]): string[] {
  const tokens: string[] = [];
  const values: string[] = [];
  const by = new Map<string, string[]>();
  const walk = (v: unknown, path: string, name: string): void => {
    if (typeof v === "string" || typeof v === "number") {
      tokens.push(String(v));
      values.push(String(v));
      for (const k of [`p${path}`, `n${name}`]) by.set(k, [...(by.get(k) ?? []), String(v)]);
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, `${path}[*]`, name));
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        tokens.push(k);
        walk(x, `${path}.${k}`, `${path.split(".").length}:${k}`);
      }
    }
  };
  for (const d of docs) walk(d, "", "");
  return [tokens.join(""), values.join(""), ...[...by.values()].map((v) => v.join(""))];
}

const json = (s: string): unknown[] => {
  try {
    return [JSON.parse(s)];
  } catch {
    return [];
  }
};

/** Everything an agent could read out of a response, decoded and joined every way above. */
function readings(r: RawResponse): string[] {
  const texts: string[] = [];
  const values = Object.values(r.headers).flatMap((v) => [v ?? ""].flat());
  texts.push(...Object.keys(r.headers), values.join(""), values.flatMap((v) => v.split(/,\s*/)).join(""), ...values);
  const body = r.body.toString("latin1");
  const data = body.split(/\r?\n\r?\n/).map((e) => e.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n"));
  texts.push(body, data.join(""), ...joins(data.flatMap(json)), ...joins(body.split(/\r?\n/).flatMap(json)), ...joins(json(body)));
  const out: string[] = [];
  for (const t of texts) {
    for (const s of [t, ((): string => { try { return decodeURIComponent(t); } catch { return t; } })()]) {
      out.push(s, s.replace(/\s+/g, ""));
      out.push(Buffer.from(s.replace(/0x/gi, "").replace(/[^0-9a-f]/gi, ""), "hex").toString("latin1"));
      for (let off = 0; off < 4; off++) out.push(Buffer.from(s.replace(/[^A-Za-z0-9+/]/g, "").slice(off), "base64").toString("latin1"));
    }
  }
  return out;
}

describe.each(["streaming", "masking"])("the credential in pieces and loose spellings (%s path)", (g) => {
  it.each(Object.keys(ANSWERS).flatMap((name) => (["identity", "gzip", "br"] as const).map((enc) => [name, enc] as const)))("%s (%s) never reaches the agent", async (name, enc) => {
    const r = await get(g, `/pieces/${name}/${enc}`);
    for (const t of readings(r)) expect(t).not.toContain(TOKEN);
    expect(r.headers["content-encoding"]).toBeUndefined();
    if (g === "streaming") {
      expect(r.status).toBe(name === "error-frames" ? 500 : 200);
      // Overwritten in place where it was spelled, or a header dropped.
      if (!name.startsWith("header-name")) expect(JSON.stringify(r.headers) + r.body.toString()).toMatch(/\*|\[REDACTED\]/);
      else expect(Object.keys(r.headers).some((h) => h.startsWith("x-t-"))).toBe(false);
    }
  });

  it("no log line carries it", () => {
    expect(allLogs(gateways[g]!.lines)).not.toContain(TOKEN);
  });
});

describe("must-allow: pieces that are not the credential", () => {
  it.each(Object.keys(INNOCENT).filter((n) => !INNOCENT[n]!.gated).flatMap((name) => (["identity", "gzip"] as const).map((enc) => [name, enc] as const)))("%s (%s) passes byte for byte", async (name, enc) => {
    const r = await get("streaming", `/innocent/${name}/${enc}`);
    expect(r.status).toBe(200);
    expect(r.body.toString("latin1")).toBe(INNOCENT[name]!.pieces.join(""));
    for (const h of INNOCENT[name]!.headers.filter((x) => x.startsWith("X-") || x.startsWith("Link"))) {
      const [k, v] = h.split(/: (.*)/);
      expect(r.headers[k!.toLowerCase()]).toBe(v);
    }
  });

  it.each(["identity", "gzip"])("an event stream is not held back: the upstream writes each event only once the agent has the one before (%s)", async (enc) => {
    // Were an event held until the next came, the stream would stall here (and `get` give up after 3 s).
    let opened = 0;
    const r = await get("streaming", `/innocent/deltas-gated/${enc}`, (body) => {
      const complete = body.split("\n\n").length - 1;
      while (opened < complete) {
        opened++;
        gate?.();
      }
    });
    expect(r.body.toString("latin1")).toBe(INNOCENT["deltas-gated"]!.pieces.join(""));
  });
});
