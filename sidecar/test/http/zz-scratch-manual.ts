import { createServer, Agent, request } from "node:http";
const agent = new Agent({ keepAlive: true });
createServer((req, res) => {
  const up = request({ host: "127.0.0.1", port: 18081, path: req.url, method: req.method, headers: req.headers, agent }, (pr) => { res.writeHead(pr.statusCode ?? 502, pr.headers); pr.pipe(res); });
  req.pipe(up);
}).listen(18084, "127.0.0.1");
process.on("SIGINT", () => process.exit(0));
