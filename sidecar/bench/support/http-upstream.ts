// A tiny JSON API for the HTTP scenario, run as its own process:
//
//   node --import tsx sidecar/bench/support/http-upstream.ts      -> prints {"port": N} once listening
//
// Every GET answers the same small customer record (it has fields the example policy masks: email, ssn).
import { createServer } from "node:http";

export const UPSTREAM_BODY = JSON.stringify({
  id: 42,
  full_name: "Ada Lovelace",
  email: "ada.lovelace@example.com",
  ssn: "123-45-6789",
  plan: "pro",
  orders: 3,
  created_at: "2024-09-04T22:10:32Z",
});

const body = Buffer.from(UPSTREAM_BODY);
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const a = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof a === "object" && a ? a.port : 0 })}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
