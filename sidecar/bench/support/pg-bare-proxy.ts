// The floor for regate's Postgres path in Node: a TCP proxy that only pipes bytes both ways (socket.pipe, no
// protocol decoding, no policy, no auth of its own; the client authenticates to PostgreSQL through it).
// What no Node proxy on this runtime can beat; regate's distance from it is what its own work costs.
//
//   node sidecar/bench/support/pg-bare-proxy.ts <upstream-port>   -> prints {"port": N}
import { connect, createServer } from "node:net";

const upstreamPort = Number(process.argv[2]);

const server = createServer((client) => {
  client.setNoDelay(true);
  const upstream = connect({ host: "127.0.0.1", port: upstreamPort });
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", end).on("close", end);
  upstream.on("error", end).on("close", end);
});
server.listen(0, "127.0.0.1", () => {
  const a = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof a === "object" && a ? a.port : 0 })}\n`);
});
