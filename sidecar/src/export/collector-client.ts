// One batch POSTed to the collector: over node:http(s) on one keep-alive connection (client certificates and a
// private CA go on its agent), or an injected fetch in unit tests. Only the answer's status matters.

import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export interface CollectorOptions {
  /** Where batches are POSTed. */
  url: string;
  /** Extra request headers (credentials). */
  headers: Record<string, string>;
  timeout_ms: number;
  /** PEM contents: a CA to trust instead of the system's, and a client certificate and key (mTLS). */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Injected in unit tests instead of node:http(s). */
  fetch?: typeof fetch;
}

/** A 413 from the collector: not a failure to retry as is (BatchUploader.#tooLarge). */
export class TooLarge extends Error {
  constructor() {
    super("collector answered HTTP 413");
  }
}

export class CollectorClient {
  readonly #opts: CollectorOptions;
  readonly #agent: HttpAgent | HttpsAgent;

  constructor(opts: CollectorOptions) {
    this.#opts = opts;
    // One keep-alive connection: uploads are sequential.
    const https = new URL(opts.url).protocol === "https:";
    this.#agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ...opts.tls }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  }

  /** POSTs a gzip'd body; throws TooLarge on a 413, an Error on any other status outside 2xx. */
  async post(body: Buffer): Promise<void> {
    const headers: Record<string, string> = { "content-type": "application/json", "content-encoding": "gzip", "user-agent": "regate", ...this.#opts.headers };
    const status = this.#opts.fetch ? await this.#postFetch(this.#opts.fetch, headers, body) : await this.#postNode(headers, body);
    if (status === 413) throw new TooLarge();
    if (status < 200 || status > 299) throw new Error(`collector answered HTTP ${status}`);
  }

  close(): void {
    this.#agent.destroy();
  }

  async #postFetch(f: typeof fetch, headers: Record<string, string>, body: Buffer): Promise<number> {
    const res = await f(this.#opts.url, { method: "POST", headers, body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) as Uint8Array<ArrayBuffer>, signal: AbortSignal.timeout(this.#opts.timeout_ms) });
    await res.arrayBuffer().catch(() => undefined);
    return res.status;
  }

  /** node:http(s) rather than fetch: client certificates and a private CA go on the agent. */
  #postNode(headers: Record<string, string>, body: Buffer): Promise<number> {
    const https = this.#agent instanceof HttpsAgent;
    return new Promise((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(this.#opts.url, { method: "POST", headers: { ...headers, "content-length": String(body.length) }, agent: this.#agent }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      });
      const timer = setTimeout(() => req.destroy(new Error(`collector did not answer within ${this.#opts.timeout_ms} ms`)), this.#opts.timeout_ms);
      req.on("close", () => clearTimeout(timer));
      req.on("error", reject);
      req.end(body);
    });
  }
}
