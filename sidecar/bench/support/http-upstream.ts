// A tiny JSON API for the HTTP scenario, run as its own process:
//
//   node --import tsx sidecar/bench/support/http-upstream.ts      -> prints {"port": N} once listening
//
// Every GET answers the same small customer record (it has fields the example policy masks: email, ssn), but
// GET /customers (no id) the list of 200 of them, about 32 KB: what a response of some size costs where regate
// reads every byte (a route's credential guard). GET /auth tells whether the request carried a bearer token,
// so a scenario can check that regate injected a route's credential.
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

const NAMES = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth", "Frances Allen", "John Backus"];

/** 200 records shaped as UPSTREAM_BODY, varied as a real list is (ids, names, dates, counts). */
export const UPSTREAM_LIST_BODY = JSON.stringify(
  Array.from({ length: 200 }, (_, i) => {
    const name = NAMES[i % NAMES.length]!;
    return {
      id: 1000 + i * 7,
      full_name: name,
      email: `${name.toLowerCase().replace(" ", ".")}${i}@example.com`,
      ssn: `${String(100 + (i % 800)).padStart(3, "0")}-${String(10 + (i % 89)).padStart(2, "0")}-${String(1000 + i * 37).slice(-4)}`,
      plan: ["free", "pro", "team"][i % 3],
      orders: (i * 13) % 50,
      created_at: `2024-${String(1 + (i % 12)).padStart(2, "0")}-${String(1 + (i % 28)).padStart(2, "0")}T${String(i % 24).padStart(2, "0")}:10:32Z`,
    };
  }),
);

const one = Buffer.from(UPSTREAM_BODY);
const list = Buffer.from(UPSTREAM_LIST_BODY);
const server = createServer((req, res) => {
  req.resume();
  const path = (req.url ?? "/").split("?")[0];
  const body = path === "/customers" ? list : path === "/auth" ? Buffer.from(JSON.stringify({ bearer: /^Bearer \S/.test(req.headers.authorization ?? "") })) : one;
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
