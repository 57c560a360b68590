// The keep-alive pool of a route's upstream connections, on undici (decision 0002). A connection goes back to
// the pool once a response has been read to its end; bytes that come on it after that answer no request (an
// upstream writing past its Content-Length, a body after a 204), yet the next request sent there would read
// them as its answer, and its own answer would go to the request after. An agent that can make an upstream
// write such bytes (an echo endpoint writes a whole response) would choose what another agent receives.
// undici closes a pooled connection that receives anything while idle, and one that answered a HEAD; bytes
// that come only after the connection was taken again cannot be told from an answer, so the other responses
// that never have a body (204, 304) close their connection too (forward.ts).

import type { Socket } from "node:net";
import { buildConnector, Pool } from "undici";

export interface UpstreamPoolOptions {
  /** The route's CA for an https upstream (PEM); the system's roots otherwise. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** How long a pooled connection may sit idle when the upstream announces no Keep-Alive timeout. */
  idleMs: number;
}

const BORN = Symbol("regate.born");
type Tagged = Socket & { [BORN]?: number };

/**
 * A route's pool. Each connection and each request draws a number from one counter, so that a request whose
 * connection fails before answering can tell whether that connection predates it (reused: the upstream may
 * have closed it as idle while the request was on its way) or was opened for it.
 */
export class UpstreamPool {
  readonly #pool: Pool;
  #seq = 0;
  /** Open connections by local port (unique within one origin), for errors that carry only the socket's addresses. */
  readonly #byPort = new Map<number, number>();

  constructor(origin: string, o: UpstreamPoolOptions) {
    const base = buildConnector({
      ...(o.ca !== undefined ? { ca: o.ca as string | Buffer | (string | Buffer)[] } : {}),
      // No connect deadline of its own, as node:http had none: limits.timeout_ms bounds the whole wait.
      timeout: 0,
    });
    this.#pool = new Pool(origin, {
      connect: (opts, done) =>
        base(opts, (err, socket) => {
          if (socket) this.#tag(socket as Tagged);
          if (err) done(err, null);
          else done(null, socket!);
        }),
      connections: null,
      pipelining: 1,
      keepAliveTimeout: o.idleMs,
      // An upstream's own Keep-Alive timeout is heeded, leaving it a second, as node's Agent did.
      keepAliveTimeoutThreshold: 1_000,
      // regate times the wait for headers (limits.timeout_ms) and a masked body's silences itself; an unmasked
      // body streams for as long as the upstream sends it, as it did on node:http.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  #tag(socket: Tagged): void {
    const born = ++this.#seq;
    socket[BORN] = born;
    const port = socket.localPort;
    if (port !== undefined) this.#byPort.set(port, born);
    // The failing request hears of the close after the socket's own 'close' listeners ran: forget it a turn later.
    socket.once("close", () => setImmediate(() => this.#byPort.get(port ?? -1) === born && this.#byPort.delete(port!)));
    // Errors the socket emits itself (ECONNRESET, EPIPE) reach the request as the same object: mark them.
    socket.on("error", (err: Error & { [BORN]?: number }) => {
      err[BORN] ??= born;
    });
  }

  /** A number no connection opened after this call can have drawn. */
  ticket(): number {
    return ++this.#seq;
  }

  /** Whether the connection a request failed on (as its error tells) was open before the request's ticket. */
  wasReused(err: unknown, ticket: number): boolean {
    const e = err as { [BORN]?: number; socket?: { localPort?: number } } | null;
    const born = e?.[BORN] ?? (e?.socket?.localPort !== undefined ? this.#byPort.get(e.socket.localPort) : undefined);
    return born !== undefined && born < ticket;
  }

  get dispatcher(): Pool {
    return this.#pool;
  }

  /** Closes the pool once the requests it holds are answered. */
  close(): void {
    this.#pool.close().catch(() => {});
  }

  destroy(): void {
    this.#pool.destroy().catch(() => {});
  }
}
