import { createServer, Agent } from "node:http";
import httpProxy from "http-proxy";
const agent = new Agent({ keepAlive: true });
const proxy = httpProxy.createProxyServer({ target: "http://127.0.0.1:18081", agent, selfHandleResponse: process.argv[2] === "self" });
if (process.argv[2] === "self") proxy.on("proxyRes", (pr, _req, res) => { res.writeHead(pr.statusCode ?? 502, pr.headers); pr.pipe(res); });
createServer((req, res) => proxy.web(req, res)).listen(18083, "127.0.0.1");
process.on("SIGINT", () => process.exit(0));
