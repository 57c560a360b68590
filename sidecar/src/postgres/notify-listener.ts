import type { UpstreamConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import { Backend, FrameReader } from "./protocol/index.js";
import { simpleQuery } from "./simple-query.js";
import { connectUpstream, type UpstreamConnection } from "./upstream.js";

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;

export interface NotifyListenerOptions {
  upstream: UpstreamConfig;
  channel: string;
  applicationName: string;
  /** More startup parameters (the stores pin their search_path: serial-connection.ts STORE_STARTUP). */
  params?: Readonly<Record<string, string>>;
  /** What log lines call it ("lock store listener"). */
  name: string;
  log: Logger;
  /** Each notification's payload (the stores send ids only; whatever arrives is re-read, never trusted). */
  onNotify(payload: string): void;
  /**
   * After LISTEN is in place, with the listening backend's pid: anything may have changed while nobody
   * listened, so re-read here. Throwing counts as a failed start (retried; on the first start with
   * `failFast`, start() rejects).
   */
  onListening?(pid: number, first: boolean): Promise<void> | void;
  /** The connection was lost (a reconnection follows). */
  onLost?(): void;
}

/**
 * One upstream connection held in LISTEN on a channel, for the catalog hooks and the stores replicas share
 * (locks, approvals). A lost connection may have lost notifications: onListening runs on every (re)start,
 * and reconnection backs off from 250 ms up to 10 s.
 */
export class NotifyListener {
  readonly #opts: NotifyListenerOptions;
  #conn: UpstreamConnection | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #retryMs = RETRY_MIN_MS;

  constructor(opts: NotifyListenerOptions) {
    this.#opts = opts;
  }

  /** True while a LISTEN is in place (a notification would reach us). */
  get listening(): boolean {
    return this.#conn !== undefined;
  }

  /** With `failFast`, the first attempt's failure is thrown (a caller that must not start blind); else it is retried. */
  async start(failFast = false): Promise<void> {
    await this.#connect(true, failFast);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#conn?.socket.destroy();
    this.#conn = undefined;
  }

  async #connect(first: boolean, failFast: boolean): Promise<void> {
    if (this.#closed) return;
    const o = this.#opts;
    let conn: UpstreamConnection;
    try {
      conn = await connectUpstream(o.upstream, { ...o.params, application_name: o.applicationName });
      if (this.#closed) return void conn.socket.destroy();
      const [[pid]] = (await simpleQuery(conn.socket, `LISTEN ${o.channel}; SELECT pg_backend_pid()`, conn.leftover)) as [[string]];
      try {
        await o.onListening?.(Number(pid), first);
      } catch (err) {
        conn.socket.destroy();
        throw err;
      }
    } catch (err) {
      if (first && failFast) throw err;
      o.log.warn({ err }, `${o.name} could not start; retrying`);
      return this.#retry();
    }
    this.#conn = conn;
    this.#retryMs = RETRY_MIN_MS;
    const reader = new FrameReader(1 << 20);
    conn.socket.on("data", (chunk: Buffer) => {
      try {
        reader.push(chunk, (f) => {
          if (f.type === Backend.NotificationResponse) o.onNotify(notificationPayload(f.body));
          return true;
        });
      } catch (err) {
        o.log.warn({ err }, `${o.name} read a bad frame; reconnecting`);
        conn.socket.destroy();
      }
    });
    const lost = () => {
      if (this.#conn !== conn) return;
      this.#conn = undefined;
      if (this.#closed) return;
      o.log.warn(`${o.name} lost its connection; reconnecting`);
      o.onLost?.();
      this.#retry();
    };
    conn.socket.once("close", lost);
    conn.socket.once("error", lost);
  }

  #retry(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#connect(false, false), this.#retryMs);
    this.#timer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
  }
}

/** NotificationResponse: int32 pid, channel\0, payload\0. */
function notificationPayload(body: Buffer): string {
  const channelEnd = body.indexOf(0, 4);
  const end = body.indexOf(0, channelEnd + 1);
  return channelEnd < 0 || end < 0 ? "" : body.subarray(channelEnd + 1, end).toString("utf8");
}
