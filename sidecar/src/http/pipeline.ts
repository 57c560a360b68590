// Pipelined requests (several on one connection before the first is answered), forwarded one at a time.
//
// Node hands every request it parses to the handler at once. When an earlier answer then ends the connection
// (close-delimited for an HTTP/1.0 agent, a refusal that closes it), the later requests had already been
// decided and sent upstream: they ran, and the agent, whose connection closed before their answers, sends them
// again (RFC 9112 9.3.2 has a client retry unanswered pipelined requests). Each request waits for the answer
// before it on its connection; when that answer ended the connection, the request is dropped, never forwarded.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";

interface Connection {
  /** The newest response: the one the next request waits for. */
  newest: ServerResponse;
  /** Settles when the connection closes: answers queued behind another get no event of their own then. */
  closed?: Promise<void>;
}

export class PipelineOrder {
  readonly #connections = new WeakMap<Socket, Connection>();

  /**
   * Records `res` as its connection's newest answer. Resolves at once (undefined) for the first request on a
   * connection or one whose predecessor is written; otherwise a promise of whether the connection still takes
   * an answer once the predecessor is written or abandoned (false: the request must not go upstream).
   */
  enter(req: IncomingMessage, res: ServerResponse): Promise<boolean> | undefined {
    const socket = req.socket;
    const c = this.#connections.get(socket);
    if (c === undefined) {
      this.#connections.set(socket, { newest: res });
      return undefined;
    }
    const before = c.newest;
    c.newest = res;
    if (before.writableFinished || before.destroyed) return undefined;
    // One listener per connection, however deep the pipeline.
    c.closed ??= new Promise((resolve) => socket.once("close", () => resolve()));
    const written = new Promise<void>((resolve) => {
      before.once("finish", () => resolve());
      before.once("close", () => resolve());
    });
    // Node ends the connection on the finish of an answer that closes it, before the listener above runs.
    return Promise.race([written, c.closed]).then(() => !socket.destroyed && socket.writable);
  }
}
