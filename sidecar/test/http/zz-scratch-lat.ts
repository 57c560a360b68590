import { createServer, request, Agent } from "node:http";
import { pino } from "pino";
import { createHttpGateway } from "../../src/http/index.js";
import { AgentDirectory } from "../../src/identity/index.js";
import { listen } from "./fixtures.js";

const payload = JSON.stringify({ id: 1, name: "Alice", email: "alice@example.com", items: [1, 2, 3] });
const up = createServer((req, res) => { req.resume(); req.on("end", () => res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }).end(payload)); });
const upUrl = await listen(up);
const gw = createHttpGateway({
  routes: [{ name: "api", prefix: "/", upstream: upUrl, credential: { type: "bearer", value: "s" } }],
  agents: new AgentDirectory({ tokens: [{ subject: "a", groups: [], token: "tok" }] }),
  decider: { decide: () => ({ decision_id: "x", outcome: "allow", reasons: [], mask: [], dry_run: false, revision: "r" }) },
  logger: pino({ level: "warn" }),
  limits: { max_body_bytes: 1 << 20, max_input_body_bytes: 1 << 16, timeout_ms: 5000 },
});
const gwUrl = await listen(gw.server);
const agent = new Agent({ keepAlive: true });
function get(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    request(url, { agent, headers: { authorization: "Bearer tok" } }, (res) => { res.resume(); res.on("end", resolve); }).on("error", reject).end();
  });
}
for (const [name, url] of [["direct", upUrl], ["via", gwUrl], ["direct", upUrl], ["via", gwUrl]] as const) {
  const t0 = performance.now();
  for (let i = 0; i < 300; i++) await get(url + "/x");
  console.log(name, ((performance.now() - t0) / 300).toFixed(3), "ms/req");
}
await gw.close(); up.close(); agent.destroy();
