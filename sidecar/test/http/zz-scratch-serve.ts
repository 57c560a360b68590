import { createServer } from "node:http";
import { pino } from "pino";
import { createHttpGateway } from "../../src/http/index.js";
import { AgentDirectory } from "../../src/identity/index.js";
import { listen } from "./fixtures.js";

const payload = JSON.stringify({ id: 1, name: "Alice", email: "alice@example.com", items: [1, 2, 3] });
if (process.argv[2] === "up") {
  const up = createServer((req, res) => { req.resume(); req.on("end", () => res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }).end(payload)); });
  up.listen(18081, "127.0.0.1");
} else {
  const gw = createHttpGateway({
    routes: [{ name: "api", prefix: "/", upstream: "http://127.0.0.1:18081", credential: { type: "bearer", value: "s" } }],
    agents: new AgentDirectory({ tokens: [{ subject: "a", groups: [], token: "tok" }] }),
    decider: { decide: () => ({ decision_id: "x", outcome: "allow", reasons: [], mask: process.argv[2] === "mask" ? [{ field: "email", strategy: "partial" }] : [], dry_run: false, revision: "r" }) },
    logger: pino({ level: "warn" }),
    limits: { max_body_bytes: 1 << 20, max_input_body_bytes: 1 << 16, timeout_ms: 5000 },
  });
  gw.server.listen(18082, "127.0.0.1");
}
process.on("SIGINT", () => process.exit(0));
