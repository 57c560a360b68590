// The keep-alive pool of a route's upstream connections. A connection goes back to the pool once a response
// has been read to its end; bytes that come on it after that answer no request (an upstream writing past its
// Content-Length, a body after a 204), yet the next request sent there would read them as its answer, and
// its own answer would go to the request after. An agent that can make an upstream write such bytes (an echo
// endpoint writes a whole response) would choose what another agent receives and read the other's answer.
// A pooled connection that receives anything is closed, as nginx closes its idle upstream connections.
// Bytes that come only after the connection was taken again cannot be told from an answer: responses that
// never have a body close their connection instead (upstream-response.ts).

import type { ClientRequest } from "node:http";
import { Agent as HttpAgent, type AgentOptions } from "node:http";
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from "node:https";
import type { Duplex } from "node:stream";

function closeOnData(this: Duplex): void {
  this.destroy();
}

// A mixin's base constructor takes whatever arguments the Agent it extends takes.
type AgentClass = new (...args: any[]) => HttpAgent;

/** `Base` (http's or https's Agent) whose idle pooled sockets are closed when bytes arrive on them. */
function closingIdle<T extends AgentClass>(Base: T) {
  return class extends Base {
    // Node keeps the socket when keepSocketAlive returns a truthy value (documented; @types/node types it void).
    override keepSocketAlive(socket: Duplex): boolean {
      const keep = Boolean(super.keepSocketAlive(socket));
      if (keep) socket.on("data", closeOnData);
      return keep;
    }

    override reuseSocket(socket: Duplex, request: ClientRequest): void {
      socket.off("data", closeOnData);
      super.reuseSocket(socket, request);
    }
  };
}

const PoolAgent = closingIdle(HttpAgent);
const HttpsPoolAgent = closingIdle(HttpsAgent);

export function poolAgent(https: false, opts: AgentOptions): HttpAgent;
export function poolAgent(https: true, opts: HttpsAgentOptions): HttpsAgent;
export function poolAgent(https: boolean, opts: AgentOptions | HttpsAgentOptions): HttpAgent {
  return https ? new HttpsPoolAgent(opts) : new PoolAgent(opts);
}
