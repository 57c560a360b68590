// Test fixtures for the HTTP adapter's integration tests: a real upstream that records what it received,
// a rule-based test decider, an in-memory logger, and a gateway on a free loopback port.

import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import { basename } from "node:path";
import { Writable } from "node:stream";
import { gzipSync } from "node:zlib";
import { pino, type Logger } from "pino";
import { expect } from "vitest";
import type { Decider } from "../../src/decision/decider.js";
import { DecisionLog, flushLogBatches } from "../../src/audit/index.js";
import { DecisionPipeline } from "../../src/decision/index.js";
import type { Decision, MaskRule, PolicyInput, ApproveRequest } from "../../src/decision/types.js";
import type { ActivePolicy } from "../../src/policy/index.js";
import { createHttpGateway, type HttpGateway, type HttpGatewayOptions, type HttpInput, type RequestDoneInfo, type RouteOptions } from "../../src/http/index.js";
import { AgentDirectory } from "../../src/identity/index.js";
import { keepOutput } from "../support/test-output.js";

export const AGENT_TOKEN = `agent-token-${randomBytes(8).toString("hex")}`;
export const UPSTREAM_SECRET = `upstream-secret-${randomBytes(8).toString("hex")}`;

export const CUSTOMER = {
  id: 1,
  name: "Alice Smith",
  email: "alice@example.com",
  phone: "(415) 555-2671",
  ssn: "123-45-6789",
  card_number: "4111 1111 1111 1111",
  note: "backup card 5500-0000-0000-0004, order 4111111111111112",
};

export interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export interface Upstream {
  url: string;
  server: Server;
  requests: Captured[];
  close(): Promise<void>;
}

export function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

/**
 * An upstream on a raw socket, for framings node:http would not write: it reads request heads (requests
 * without bodies) off each connection and hands each to `answer`, which writes the response bytes itself.
 */
export async function headsUpstream(answer: (sock: Socket, head: string) => void): Promise<{ server: TcpServer; port: number }> {
  const server = createTcpServer((sock) => {
    let buf = "";
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      for (let end = buf.indexOf("\r\n\r\n"); end >= 0; end = buf.indexOf("\r\n\r\n")) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        answer(sock, head);
      }
    });
    sock.on("error", () => sock.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  const payload = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload), ...headers }).end(payload);
};

/**
 * The upstream API. It records every request (tests assert the injected credential arrived and the agent's
 * did not) and echoes it back without credential headers: a real API does not reflect its credentials.
 */
export async function startUpstream(): Promise<Upstream> {
  const requests: Captured[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders, body });
      const path = (req.url ?? "").split("?")[0]!;
      const route = path.replace(/^\/api/, "");
      switch (route) {
        case "/customers/1":
          return json(res, 200, CUSTOMER, { etag: '"v1"' });
        case "/customers/1.gz": {
          const gz = gzipSync(JSON.stringify(CUSTOMER));
          res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": gz.length }).end(gz);
          return;
        }
        case "/text":
          res.writeHead(200, { "content-type": "text/plain" }).end(`Customer ${CUSTOMER.email} paid with ${CUSTOMER.card_number}.`);
          return;
        case "/html":
          res.writeHead(404, { "content-type": "text/html" }).end(`<p>no such customer ${CUSTOMER.email}</p>`);
          return;
        case "/binary":
          res.writeHead(200, { "content-type": "application/octet-stream" }).end(Buffer.from([0xff, 0x00, 0xfe, 0x41]));
          return;
        case "/sse": {
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
          res.write(`event: message\ndata: ${JSON.stringify({ n: 1, email: CUSTOMER.email })}\n\n`);
          // The second event comes later: the first must reach the agent before it.
          setTimeout(() => {
            res.write(`data: ${JSON.stringify({ n: 2, card: CUSTOMER.card_number })}\n\n`);
            res.end("data: [DONE]\n\n");
          }, 300);
          return;
        }
        case "/chunked":
          res.writeHead(200, { "content-type": "application/octet-stream" });
          res.write("part1-");
          setTimeout(() => res.end("part2"), 100);
          return;
        case "/cookie":
          res.writeHead(200, { "set-cookie": "session=upstream-session; HttpOnly", "content-type": "text/plain", "x-upstream": "yes" }).end("ok");
          return;
        case "/unauthorized":
          return json(res, 401, { error: "bad credentials" }, { "www-authenticate": "Bearer" });
        case "/slow":
          // Never answers: the gateway's timeout must fire.
          return;
        default:
          return json(res, 200, {
            method: req.method,
            url: req.url,
            headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== "authorization" && k !== "x-service-key")),
            body,
          });
      }
    });
  });
  const url = await listen(server);
  return { url, server, requests, close: () => closeServer(server) };
}

/** What a test rule returns: the policy's answer in simplified form. */
export interface TestVerdict {
  outcome?: "allow" | "deny" | "approve";
  reasons?: string[];
  mask?: MaskRule[];
  status?: number;
  approve?: ApproveRequest;
}

/**
 * The real DecisionPipeline (strict result validation, decision log in OPA's shape) over a policy written
 * in TypeScript: the rules stand in for the compiled Rego only. Decision-log lines go to `lines`, which
 * startGateway shares with the gateway's own log, so "never logged" assertions cover both.
 */
export class TestRulesDecider implements Decider {
  readonly inputs: PolicyInput[] = [];
  readonly lines: string[] = [];
  readonly #pipeline: DecisionPipeline;

  constructor(private readonly rules: (input: PolicyInput) => TestVerdict) {
    const log = memoryLogger(this.lines);
    const policy: ActivePolicy = {
      revision: "test",
      entrypoints: new Set(["regate/decision"]),
      evaluate: (_entrypoint, bytes) => {
        const input = JSON.parse(Buffer.from(bytes as ArrayBuffer).toString("utf8")) as PolicyInput;
        this.inputs.push(input);
        const v = this.rules(input);
        const outcome = v.outcome ?? "allow";
        return {
          allow: outcome !== "deny",
          deny: outcome === "deny" ? (v.reasons?.length ? v.reasons : ["denied by test rule"]) : [],
          mask: v.mask ?? [],
          ...(outcome === "approve" ? { approve: v.approve ?? { reason: v.reasons?.[0] ?? "approval required", approvers: "humans", timeout_seconds: 60 } } : {}),
          ...(v.status === undefined ? {} : { status: v.status }),
        };
      },
    };
    this.#pipeline = new DecisionPipeline({
      policy: () => policy,
      entrypoint: "regate/decision",
      dryRun: false,
      // As app.ts wires it: the secrets regate holds are scrubbed from every line (an agent may send its own
      // token in a body, a pipelined request's text).
      sinks: [new DecisionLog(log.logger, { bundleName: "regate", labels: { app: "regate-test" }, secrets: [AGENT_TOKEN, UPSTREAM_SECRET] })],
      logMask: true,
    });
  }

  decide(input: PolicyInput): Decision {
    return this.#pipeline.decide(input);
  }
}

/** pino writing to memory, one entry per line (a write may carry several): tests assert what was (and was not) logged. */
export function memoryLogger(lines: string[] = []): { logger: Logger; lines: string[] } {
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(`${line}\n`);
      cb();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

export interface GatewayUnderTest {
  url: string;
  port: number;
  gateway: HttpGateway;
  lines: string[];
  done: RequestDoneInfo[];
  close(): Promise<void>;
}

export async function startGateway(opts: Omit<HttpGatewayOptions, "logger" | "agents" | "limits"> & Partial<Pick<HttpGatewayOptions, "agents" | "limits">>): Promise<GatewayUnderTest> {
  const { logger, lines } = memoryLogger(opts.decider instanceof TestRulesDecider ? opts.decider.lines : []);
  const done: RequestDoneInfo[] = [];
  const gateway = createHttpGateway({
    agents: new AgentDirectory({ tokens: [{ subject: "support-bot", groups: ["support"], token: AGENT_TOKEN }] }),
    limits: { max_body_bytes: 64 * 1024, max_input_body_bytes: 8 * 1024, timeout_ms: 1500 },
    logger,
    onRequestDone: (info) => done.push(info),
    ...opts,
  });
  const url = await listen(gateway.server);
  const secrets = [AGENT_TOKEN, UPSTREAM_SECRET, ...(opts.routes ?? []).flatMap((r) => (r.credential ? [r.credential.value, r.credential.value.split(":").slice(1).join(":")] : []))];
  const close = async () => {
    await gateway.close();
    flushLogBatches();
    // Kept for the secrets sweep that runs after the suite (sidecar/test/reliability/secrets-sweep.ts).
    const path = expect.getState().testPath;
    keepOutput("suite", path ? `http-${basename(path).replace(/\.test\.ts$/, "")}` : "http", lines.join(""), secrets);
  };
  return {
    url,
    port: Number(new URL(url).port),
    gateway,
    // Log lines wait for their batch (audit/batch.ts): whoever reads them gets every one logged so far.
    get lines() {
      flushLogBatches();
      return lines;
    },
    done,
    close,
  };
}

export const authed = (extra: Record<string, string> = {}): Record<string, string> => ({ authorization: `Bearer ${AGENT_TOKEN}`, ...extra });

/** Every log line so far, as one string, for "never appears" assertions. */
export const allLogs = (lines: string[]): string => lines.join("");

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A plain node:http request: no automatic decompression, exact bytes (fetch would decode gzip). */
export async function rawRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? "GET", headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** Writes raw bytes on a TCP connection and returns everything the server sends until it closes. */
export async function rawExchange(port: number, payload: string): Promise<string> {
  const { connect } = await import("node:net");
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(payload));
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.on("error", reject);
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
  });
}

/** The values the masking tests protect, and the two kinds of rules that protect them. */
export const MASKED = { ssn: "123-45-6789", email: "alice@example.com" } as const;
export const FIELD_RULES: MaskRule[] = [
  { field: "ssn", strategy: "redact" },
  { field: "email", strategy: "redact" },
];
export const DETECTOR_RULES: MaskRule[] = [
  { detector: "ssn", strategy: "redact" },
  { detector: "email", strategy: "redact" },
];

/**
 * A real upstream answering with `handle`, behind a gateway whose decisions mask paths under /f/ with
 * FIELD_RULES and under /d/ with DETECTOR_RULES (anything else unmasked). `route` adds to the route (a
 * credential), `limits` replaces the gateway's; `upstreamUrl` lets a suite put other gateways before it.
 */
export async function maskingGateway(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  opts: { route?: Partial<RouteOptions>; limits?: HttpGatewayOptions["limits"] } = {},
): Promise<{ gw: GatewayUnderTest; upstreamUrl: string; close(): Promise<void> }> {
  const upstream = createServer(handle);
  const url = await listen(upstream);
  const decider = new TestRulesDecider((input) => {
    const { path } = input.http as HttpInput;
    if (path.startsWith("/f/")) return { mask: FIELD_RULES };
    if (path.startsWith("/d/")) return { mask: DETECTOR_RULES };
    return {};
  });
  const gw = await startGateway({ decider, routes: [{ name: "api", prefix: "/", upstream: url, ...opts.route }], ...(opts.limits ? { limits: opts.limits } : {}) });
  return {
    gw,
    upstreamUrl: url,
    async close() {
      await gw.close();
      await closeServer(upstream);
    },
  };
}

