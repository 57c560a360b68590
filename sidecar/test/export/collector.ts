// A decision-log collector for the export tests: a real node:http server that speaks OPA's /logs protocol
// (gzip'd JSON array) and Splunk HEC (concatenated envelopes), and can be down, slow, or failing on purpose.

import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer, type ServerOptions } from "node:https";
import type { TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

export interface Reply {
  status: number;
  delay_ms?: number;
}

export interface CollectorRequest {
  path: string;
  status: number;
  authorization: string | undefined;
  content_encoding: string | undefined;
  /** CN of the client certificate (https with requestCert). */
  client_cn: string | undefined;
  count: number;
  bytes: number;
}

export class Collector {
  /** Events acknowledged with a 2xx, in arrival order. */
  readonly events: Record<string, any>[] = [];
  readonly requests: CollectorRequest[] = [];
  /** How to answer the n-th request (0-based); 200 by default. */
  reply: (n: number) => Reply = () => ({ status: 200 });
  #server: Server | undefined;

  private constructor(
    readonly port: number,
    private readonly tls?: ServerOptions,
  ) {}

  get url(): string {
    return `${this.tls ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  /** Listening on a free port, or on `port`; HTTPS with `tls` (requestCert + ca for mTLS). */
  static async start(port = 0, tls?: ServerOptions): Promise<Collector> {
    const server = tls ? createHttpsServer(tls) : createServer();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    const c = new Collector((server.address() as AddressInfo).port, tls);
    c.#attach(server);
    return c;
  }

  /** A collector that is down: its port is reserved by nobody until up() (connections are refused). */
  static async down(): Promise<Collector> {
    const c = await Collector.start();
    await c.stop();
    return c;
  }

  async up(): Promise<void> {
    const server = this.tls ? createHttpsServer(this.tls) : createServer();
    await new Promise<void>((r) => server.listen(this.port, "127.0.0.1", () => r()));
    this.#attach(server);
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** Decision ids received, as numbers when they end in a counter (test events), else as strings. */
  ids(): string[] {
    return this.events.map((e) => String(e["decision_id"] ?? e["event"]?.metadata?.uid ?? e["metadata"]?.uid));
  }

  #attach(server: Server): void {
    this.#server = server;
    server.on("request", (req, res) => {
      void (async () => {
        const raw = await readBody(req);
        const n = this.requests.length;
        const { status, delay_ms } = this.reply(n);
        const text = req.headers["content-encoding"] === "gzip" ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
        const events = parse(text);
        this.requests.push({ path: req.url ?? "", status, authorization: req.headers.authorization, content_encoding: req.headers["content-encoding"], client_cn: clientCn(req), count: events.length, bytes: raw.length });
        if (delay_ms) await new Promise((r) => setTimeout(r, delay_ms));
        if (status >= 200 && status < 300) this.events.push(...events);
        res.writeHead(status, { "content-type": "application/json" }).end(status < 300 ? "{}" : '{"error":"try later"}');
      })();
    });
  }
}

function clientCn(req: IncomingMessage): string | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  const cn = socket.getPeerCertificate?.()?.subject?.CN;
  return typeof cn === "string" ? cn : undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** A JSON array (OPA, OCSF batch) or concatenated JSON objects, one per line (Splunk HEC). */
function parse(text: string): Record<string, any>[] {
  const t = text.trim();
  if (t.startsWith("[")) return JSON.parse(t) as Record<string, any>[];
  return t.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
}
