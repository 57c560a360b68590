// The HTTP listener's connection cap (http.limits.max_connections): slow or idle clients cost bounded memory.

import type { Server } from "node:http";
import type { Socket } from "node:net";

/**
 * How long a connection over the cap may take to send the request it is refused on. It is answered 503 as
 * soon as its request arrives; one that sends nothing is closed after this.
 */
export const REFUSAL_GRACE_MS = 2000;

/**
 * Connections over the cap that wait for their request at once. Past this (a flood), more are closed without
 * an answer: the refusals themselves must not become the unbounded cost the cap exists to prevent.
 */
export const MAX_REFUSING = 64;

export interface ConnectionCap {
  /** True for a connection accepted over the cap: its request gets the 503, never the gateway. */
  refused(socket: Socket): boolean;
  /** Connections counted against the cap now. */
  open(): number;
}

/**
 * Counts the listener's connections and marks those over `max`. Node's own `server.maxConnections` would
 * close them without a word (the agent sees a reset and cannot tell regate is full from regate being down),
 * so a connection over the cap is kept just long enough to read its request and answer it with a 503 that
 * says why and when to retry (gateway.ts), then closed. A marked connection never counts against the cap,
 * and an agent whose connection closes frees its place at once.
 */
export function capConnections(server: Server, max: number, onRefused: () => void): ConnectionCap {
  let open = 0;
  let refusing = 0;
  const marked = new WeakSet<Socket>();
  // Before the HTTP server's own listener, so the mark is there by the time a request is parsed.
  server.prependListener("connection", (socket: Socket) => {
    if (open < max) {
      open++;
      socket.once("close", () => open--);
      return;
    }
    onRefused();
    if (refusing >= MAX_REFUSING) {
      socket.destroy();
      return;
    }
    refusing++;
    marked.add(socket);
    const grace = setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS);
    grace.unref();
    socket.once("close", () => {
      refusing--;
      clearTimeout(grace);
    });
  });
  return { refused: (socket) => marked.has(socket), open: () => open };
}
