import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { asError, RegateError } from "../errors.js";
import { shownUrl } from "../shown-url.js";
import { persist } from "./persisted.js";
import type { PolicyStore } from "./store.js";

/** The content type an OPA bundle server sends; long polling is kept only when the server answers with it. */
export const BUNDLE_CONTENT_TYPE = "application/vnd.openpolicyagent.bundles";

export interface BundleServiceOptions {
  /** Full URL of the bundle: service url + resource. */
  url: string;
  /** Bearer token for the Authorization header. */
  token?: string;
  /** PEM CA bundle to verify an https server with (else the system roots). */
  ca?: string;
  /** PEM client certificate and key for servers that require mTLS. */
  cert?: string;
  key?: string;
  minDelayMs: number;
  maxDelayMs: number;
  /** Ask the server to hold the request this long when nothing changed (OPA's long polling); 0: off. */
  longPollSeconds: number;
  /** Where the last good bundle is written, so a restart without the server still enforces. */
  persistPath?: string;
  /** Longest wait after repeated failures (default: maxDelayMs). */
  maxBackoffMs?: number;
  /** Injectable for tests: uniform random in [0, 1). */
  random?: () => number;
  /** Deadline of one request, headers to last byte, on top of a long poll's wait (default 30 s). */
  requestTimeoutMs?: number;
}

const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

/**
 * Polls an OPA bundle server: `If-None-Match` with the last ETag so an unchanged bundle costs a 304,
 * a jittered delay between min and max, exponential backoff on errors, and long polling when asked
 * for and the server supports it. A downloaded bundle goes through PolicyStore.install (signature,
 * rollback, compile); only a bundle that activated is persisted and its ETag remembered.
 */
export class BundleDownloader {
  #etag: string | undefined;
  #failures = 0;
  #longPoll: boolean;
  #timer: NodeJS.Timeout | undefined;
  #inflight: { abort(): void } | undefined;
  #stopped = false;
  readonly #random: () => number;

  constructor(
    private readonly store: PolicyStore,
    private readonly opts: BundleServiceOptions,
    private readonly onError: (err: RegateError) => void = () => {},
  ) {
    this.#longPoll = opts.longPollSeconds > 0;
    this.#random = opts.random ?? Math.random;
  }

  /** True while the server has shown it supports long polling (or it has not yet been asked). */
  get longPolling(): boolean {
    return this.#longPoll;
  }

  /** Runs the first poll and resolves when it is done (activated, unchanged or failed); then keeps polling. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#poll(false);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inflight?.abort();
  }

  /** One request and what follows from it; schedules the next. */
  async #poll(allowWait = true): Promise<void> {
    if (this.#stopped) return;
    let delay: number;
    try {
      const started = Date.now();
      const outcome = await this.#fetchOnce(allowWait);
      this.#failures = 0;
      // Long polling: the server holds a request until there is news, so ask again at once; but a 304 that
      // came back at once to a waiting request means the server does not hold, and a refused bundle must
      // not be fetched in a loop: the ordinary jittered delay then.
      const heldOrNews = outcome === "activated" || !allowWait || Date.now() - started > 1000;
      delay = this.#longPoll && outcome !== "refused" && heldOrNews ? 0 : this.#jitter();
    } catch (err) {
      const e = err instanceof RegateError ? err : new RegateError("BUNDLE_DOWNLOAD_FAILED", undefined, { cause: asError(err) });
      if (!this.#stopped) {
        this.store.noteRequest("failed", e);
        this.onError(e);
      }
      this.#failures++;
      delay = this.#backoff();
    }
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#poll(), delay);
    this.#timer.unref();
  }

  #jitter(): number {
    return jitterDelay(this.opts.minDelayMs, this.opts.maxDelayMs, this.#random());
  }

  #backoff(): number {
    // As OPA: retries never wait longer than max_delay.
    return backoffDelay(this.#failures, this.opts.minDelayMs, this.opts.maxBackoffMs ?? this.opts.maxDelayMs, this.#random());
  }

  async #fetchOnce(allowWait: boolean): Promise<"activated" | "unchanged" | "refused"> {
    const wait = this.#longPoll && allowWait ? this.opts.longPollSeconds : 0;
    const headers: Record<string, string> = { accept: `${BUNDLE_CONTENT_TYPE}, application/gzip, application/octet-stream` };
    if (this.#etag) headers["if-none-match"] = this.#etag;
    if (this.opts.token) headers["authorization"] = `Bearer ${this.opts.token}`;
    if (this.#longPoll) headers["prefer"] = `modes=snapshot;wait=${wait}`;
    const res = await this.#getFollowingRedirects(headers, wait * 1000 + (this.opts.requestTimeoutMs ?? 30_000));
    const contentType = (res.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    // Judged on a bundle answer only: an error page says nothing about long-polling support.
    if (this.#longPoll && res.status === 200 && contentType !== BUNDLE_CONTENT_TYPE) this.#longPoll = false;
    if (res.status === 304) {
      this.store.noteRequest("not_modified");
      return "unchanged";
    }
    if (res.status !== 200) {
      throw new RegateError("BUNDLE_DOWNLOAD_FAILED", `bundle server answered ${res.status} for ${shownUrl(this.opts.url)}`);
    }
    this.store.noteRequest("downloaded");
    let activated;
    try {
      activated = await this.store.install(res.body, "service");
    } catch (err) {
      this.onError(err as RegateError);
      return "refused";
    }
    if (res.etag) this.#etag = res.etag;
    if (activated && this.opts.persistPath) {
      // The bundle is active either way; a restart without the server would then start from an older copy.
      await persist(this.opts.persistPath, res.body, activated.revision, this.store.previousRevisions).catch((cause: unknown) =>
        this.onError(new RegateError("BUNDLE_DOWNLOAD_FAILED", `bundle ${activated.revision} is active but could not be written to ${this.opts.persistPath}`, { cause })),
      );
    }
    return activated ? "activated" : "unchanged";
  }

  /**
   * Follows up to 5 redirects (object stores and CDNs use them), as OPA's HTTP client does; the bearer
   * token and the client certificate go only to the configured host, and an https URL never redirects to plain http.
   */
  async #getFollowingRedirects(headers: Record<string, string>, timeoutMs: number): Promise<Response> {
    const first = new URL(this.opts.url);
    let url = first;
    for (let hop = 0; ; hop++) {
      const home = url.host === first.host;
      const res = await this.#get(url, home ? headers : withoutAuthorization(headers), timeoutMs, home);
      const location = res.headers["location"];
      if (![301, 302, 303, 307, 308].includes(res.status) || !location) return res;
      if (hop === 5) throw new RegateError("BUNDLE_DOWNLOAD_FAILED", `bundle server redirected more than 5 times for ${shownUrl(this.opts.url)}`);
      const next = new URL(location, url);
      // Only http(s) is fetched: any other scheme (ftp:, file:, data:) is a failed request that says so. The URL
      // parser admits only letters, digits, "+", "-" and "." in a scheme, so it is shown as it is.
      if (next.protocol !== "https:" && next.protocol !== "http:") {
        throw new RegateError("BUNDLE_DOWNLOAD_FAILED", `bundle server redirected to ${next.protocol}, which is not http or https, for ${shownUrl(this.opts.url)}`);
      }
      if (first.protocol === "https:" && next.protocol !== "https:") {
        throw new RegateError("BUNDLE_DOWNLOAD_FAILED", `bundle server redirected from https to ${next.protocol} for ${shownUrl(this.opts.url)}`);
      }
      url = next;
    }
  }

  #get(url: URL, headers: Record<string, string>, timeoutMs: number, home = true): Promise<Response> {
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      // Created before the deadline is armed: a request that cannot even be built (a scheme or header Node
      // refuses) throws here and is a failed poll, not a deadline left to fire later on a request that never
      // existed, whose throw from a timer would have ended the process.
      let req: ReturnType<typeof request>;
      try {
        req = request(url, { method: "GET", headers, timeout: timeoutMs, ...(this.opts.ca ? { ca: this.opts.ca } : {}), ...(this.opts.cert && home ? { cert: this.opts.cert, key: this.opts.key } : {}) });
      } catch (cause) {
        reject(new RegateError("BUNDLE_DOWNLOAD_FAILED", `cannot request the bundle from ${shownUrl(url.toString())}`, { cause: asError(cause) }));
        return;
      }
      // A deadline for the whole exchange, not only for a silent socket: a server that sends a byte now and
      // then would otherwise hold this poll, and every poll after it (a revoked policy never replaced), forever.
      const deadline = setTimeout(() => {
        const err = new RegateError("BUNDLE_DOWNLOAD_FAILED", `bundle server did not finish answering within ${timeoutMs} ms (${shownUrl(this.opts.url)})`);
        reject(err); // first: the errors the destroyed response then emits say less
        req.destroy(err);
      }, timeoutMs);
      deadline.unref();
      const settle = <T>(f: (v: T) => void) => (v: T) => {
        clearTimeout(deadline);
        f(v);
      };
      resolve = settle(resolve);
      reject = settle(reject);
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_BUNDLE_BYTES) req.destroy(new RegateError("BUNDLE_DOWNLOAD_FAILED", "bundle is larger than 64 MiB"));
          else chunks.push(c);
        });
        res.on("end", () => {
          const etag = res.headers["etag"];
          resolve({ status: res.statusCode ?? 0, headers: res.headers, ...(etag ? { etag } : {}), body: Buffer.concat(chunks) });
        });
        // Destroyed mid-body (deadline, size cap, stop): the response ends in an error, or only in `close`.
        res.on("error", (err) => reject(err instanceof RegateError ? err : new RegateError("BUNDLE_DOWNLOAD_FAILED", `the bundle server's answer broke off for ${shownUrl(this.opts.url)}`, { cause: err })));
        res.on("close", () => {
          if (!res.complete) reject(new RegateError("BUNDLE_DOWNLOAD_FAILED", `the bundle server's answer broke off for ${shownUrl(this.opts.url)}`));
        });
      });
      req.on("timeout", () => req.destroy(new RegateError("BUNDLE_DOWNLOAD_FAILED", "bundle server did not answer in time")));
      req.on("error", (err) => reject(err instanceof RegateError ? err : new RegateError("BUNDLE_DOWNLOAD_FAILED", `cannot reach the bundle server at ${shownUrl(this.opts.url)}`, { cause: err })));
      this.#inflight = { abort: () => req.destroy() };
      req.end();
    });
  }
}

/** Uniform between min and max: a fleet started together does not poll together. */
export function jitterDelay(minMs: number, maxMs: number, random: number): number {
  return minMs + Math.floor(random * Math.max(0, maxMs - minMs));
}

/**
 * After the n-th failure in a row (n >= 1): min * 2^n capped, at least 100 ms, drawn from the upper half
 * of that ceiling so retries spread out but never come sooner than half of it.
 */
export function backoffDelay(failures: number, minMs: number, capMs: number, random: number): number {
  const ceiling = Math.min(capMs, Math.max(minMs, 100) * 2 ** Math.min(failures, 20));
  return Math.floor(ceiling / 2 + (random * ceiling) / 2);
}

interface Response {
  status: number;
  headers: IncomingMessage["headers"];
  etag?: string;
  body: Buffer;
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  const { authorization: _, ...rest } = headers;
  return rest;
}
