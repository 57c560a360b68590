import type { UpstreamConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import { Backend, FrameReader } from "./protocol/index.js";
import { connectUpstream, type UpstreamConnection } from "./upstream.js";
import { simpleQuery } from "./simple-query.js";
import { NOTIFY_CHANNEL } from "./catalog-queries.js";

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;

/**
 * Holds one upstream connection in LISTEN regate_catalog and calls `onChange` for each notification
 * the catalog hooks send. A lost connection may have lost notifications: `onChange` is called again
 * each time listening (re)starts, and reconnection backs off up to RETRY_MAX_MS.
 */
export class CatalogListener {
  #conn: UpstreamConnection | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #retryMs = RETRY_MIN_MS;
  #listening = false;

  constructor(
    private readonly upstream: UpstreamConfig,
    private readonly log: Logger,
    private readonly onChange: (reason: string) => void,
  ) {}

  /** True while a LISTEN is in place (a notification would reach us). */
  get listening(): boolean {
    return this.#listening;
  }

  start(): void {
    void this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    let conn: UpstreamConnection;
    try {
      conn = await connectUpstream(this.upstream, { application_name: "regate-catalog-listen" });
      if (this.#closed) {
        conn.socket.destroy();
        return;
      }
      await simpleQuery(conn.socket, `LISTEN ${NOTIFY_CHANNEL}`, conn.leftover);
    } catch (err) {
      this.log.warn({ err }, "catalog listener could not start; retrying");
      return this.#retry();
    }
    this.#conn = conn;
    this.#listening = true;
    this.#retryMs = RETRY_MIN_MS;
    // Anything may have changed while nobody listened.
    this.onChange("listening");
    const reader = new FrameReader(1 << 20);
    conn.socket.on("data", (chunk: Buffer) => {
      try {
        reader.push(chunk, (f) => {
          if (f.type === Backend.NotificationResponse) this.onChange("notification");
          return true;
        });
      } catch (err) {
        this.log.warn({ err }, "catalog listener read a bad frame; reconnecting");
        conn.socket.destroy();
      }
    });
    const lost = () => {
      if (this.#conn !== conn) return;
      this.#conn = undefined;
      this.#listening = false;
      if (this.#closed) return;
      this.log.warn("catalog listener lost its connection; reconnecting");
      this.onChange("listener lost");
      this.#retry();
    };
    conn.socket.once("close", lost);
    conn.socket.once("error", lost);
  }

  #retry(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#connect(), this.#retryMs);
    this.#timer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
  }

  close(): void {
    this.#closed = true;
    this.#listening = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#conn?.socket.destroy();
    this.#conn = undefined;
  }
}
