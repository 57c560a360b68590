// A small OPA bundle server for tests: serves one bundle with an ETag, answers If-None-Match with 304,
// holds a request (long polling) when asked with `Prefer: modes=snapshot;wait=N` if enabled, and takes
// a new bundle by PUT with the upload token (what a CI job publishes).
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type ServerOptions } from "node:https";
import type { AddressInfo } from "node:net";

export const RESOURCE = "bundles/regate.tar.gz";

export class BundleServer {
  readonly requests: { headers: IncomingHttpHeaders; status: number }[] = [];
  #bundle: Buffer | undefined;
  #etag = "";
  #waiting: (() => void)[] = [];
  #server: Server;
  /** Answer every request with this status instead of the bundle (a failing server). */
  failWith: number | undefined;

  /** `tls`: serve https with these options (a server certificate, and client certificates to require). */
  constructor(readonly opts: { longPolling?: boolean; token?: string; uploadToken?: string; tls?: ServerOptions } = {}) {
    const handler: RequestListener = (req, res) => {
      const record = (status: number) => this.requests.push({ headers: req.headers, status });
      if (req.url !== `/${RESOURCE}`) return end(res, 404, record);
      if (req.method === "PUT") {
        if (!opts.uploadToken || req.headers["authorization"] !== `Bearer ${opts.uploadToken}`) return end(res, 401, record);
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          this.serve(Buffer.concat(chunks));
          end(res, 201, record);
        });
        return;
      }
      if (opts.token && req.headers["authorization"] !== `Bearer ${opts.token}`) return end(res, 401, record);
      if (this.failWith) return end(res, this.failWith, record);
      const wait = /wait=(\d+)/.exec(String(req.headers["prefer"] ?? ""))?.[1];
      const answer = () => {
        if (!this.#bundle) return end(res, 404, record);
        if (req.headers["if-none-match"] === this.#etag) return end(res, 304, record);
        record(200);
        res.writeHead(200, { etag: this.#etag, "content-type": opts.longPolling ? "application/vnd.openpolicyagent.bundles" : "application/gzip" });
        res.end(this.#bundle);
      };
      if (opts.longPolling && wait && req.headers["if-none-match"] === this.#etag) {
        const timer = setTimeout(() => {
          this.#waiting = this.#waiting.filter((w) => w !== wake);
          answer();
        }, Number(wait) * 1000);
        const wake = () => {
          clearTimeout(timer);
          answer();
        };
        this.#waiting.push(wake);
        return;
      }
      answer();
    };
    this.#server = opts.tls ? createHttpsServer(opts.tls, handler) : createServer(handler);
  }

  /** Serves these bytes from now on, with a new ETag; wakes long-polling requests. */
  serve(bundle: Buffer): void {
    this.#bundle = bundle;
    this.#etag = `"${createHash("sha256").update(bundle).digest("hex").slice(0, 16)}"`;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w();
  }

  async listen(port = 0): Promise<string> {
    await new Promise<void>((r) => this.#server.listen(port, "127.0.0.1", r));
    return `${this.opts.tls ? "https" : "http"}://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const w of this.#waiting) w();
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

function end(res: ServerResponse, status: number, record: (s: number) => void): void {
  record(status);
  res.writeHead(status).end();
}

/** Polls until `check` returns true, or fails naming what it last saw. */
export async function until(check: () => boolean, what: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting; last seen: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
