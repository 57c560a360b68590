// The baseline regate's HTTP path is measured against: the smallest useful reverse proxy on the same Node
// runtime (node:http server, keep-alive agent to the upstream, streamed response, no policy, no auth).
//
//   node --import tsx sidecar/bench/support/http-bare-proxy.ts <upstream-port> <prefix>   -> prints {"port": N}
import { Agent, createServer, request } from "node:http";

const upstreamPort = Number(process.argv[2]);
const prefix = process.argv[3] ?? "";
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const server = createServer((req, res) => {
  const url = req.url ?? "/";
  const path = prefix !== "" && url.startsWith(prefix) ? url.slice(prefix.length) || "/" : url;
  const headers = { ...req.headers, host: `127.0.0.1:${upstreamPort}` };
  delete headers.connection;
  const up = request({ host: "127.0.0.1", port: upstreamPort, method: req.method, path, headers, agent }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    upRes.pipe(res);
  });
  up.on("error", () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  req.pipe(up);
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const a = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof a === "object" && a ? a.port : 0 })}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.once("SIGTERM", stop);
