import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Listen } from "../config/index.js";
import type { Metrics } from "./metrics.js";
import { statusReport, type StatusSources } from "./status.js";

export interface AdminOptions {
  listen: Listen;
  metrics: Metrics;
  /** The /metrics text when it is not this process's registry alone (workers > 1: every worker's, aggregated). */
  metricsText?: () => Promise<string>;
  /** Ready = a bundle is loaded and the upstream answers. Returns the reasons it is not. */
  readiness: () => Promise<string[]>;
  /** What /status reports (OPA's status API shape); absent: 404. */
  status?: StatusSources;
  /** The approvals API and page (admin/approvals.ts); answers true when it handled the request. */
  approvals?: (req: IncomingMessage, res: ServerResponse, url: string) => boolean;
  /** Incident response (sessions, locks) and Slack interactions; asked before approvals, which claims all of /approvals/. */
  handlers?: ((req: IncomingMessage, res: ServerResponse, url: string) => boolean)[];
}

/** Health, readiness and metrics on their own listener, away from the data plane. */
export function createAdminServer(opts: AdminOptions): { server: Server; listen(): Promise<number> } {
  const server = createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    for (const h of opts.handlers ?? []) if (h(req, res, url ?? "/")) return;
    if (opts.approvals?.(req, res, url ?? "/")) return;
    if (req.method !== "GET" && req.method !== "HEAD") return json(405, { error: "method not allowed" });
    if (url === "/healthz") return json(200, { status: "ok" });
    if (url === "/readyz") {
      opts.readiness().then(
        (problems) => json(problems.length ? 503 : 200, problems.length ? { status: "not ready", problems } : { status: "ready" }),
        () => json(503, { status: "not ready" }),
      );
      return;
    }
    if (url === "/status" && opts.status) return json(200, statusReport(opts.status));
    // OPA serves the same document wrapped in `result`: tools written for OPA find it there.
    if (url === "/v1/status" && opts.status) return json(200, { result: statusReport(opts.status) });
    if (url === "/metrics") {
      (opts.metricsText ?? (() => opts.metrics.registry.metrics()))().then(
        (text) => {
          res.writeHead(200, { "content-type": opts.metrics.registry.contentType });
          res.end(text);
        },
        () => json(500, { error: "metrics unavailable" }),
      );
      return;
    }
    json(404, { error: "not found" });
  });
  return {
    server,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(opts.listen.port, opts.listen.host, () => {
          const a = server.address();
          resolve(typeof a === "object" && a ? a.port : opts.listen.port);
        });
      }),
  };
}
