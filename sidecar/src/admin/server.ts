import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP } from "node:net";
import type { Listen } from "../config/index.js";
import { hostName } from "../host-name.js";
import type { Metrics } from "./metrics.js";
import { statesOnly, statusReport, type StatusSources } from "./status.js";

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
  /** Host names, besides the listen host and loopback, that the listener answers to (admin.allowed_hosts). */
  allowedHosts?: readonly string[];
  /** Who a request's bearer token names (a responder or reviewer); /status says more than states only to them. */
  reader?: (req: IncomingMessage) => string | undefined;
}

/**
 * Against DNS rebinding: a page on another site whose name is made to resolve to this listener reaches it
 * from a browser with its own name in Host. An address as Host cannot be rebound, so every IP literal is
 * accepted, as are localhost, the listen host and the names configured; any other name is refused before a
 * handler runs. A request without Host (HTTP/1.0) comes from no browser.
 */
export function hostAllowed(host: string | undefined, listenHost: string, allowed: readonly string[] = []): boolean {
  if (!host?.trim()) return true;
  const name = hostName(host.trim()).replace(/\.$/, "");
  if (isIP(name) !== 0) return true;
  const names = new Set(["localhost", listenHost.toLowerCase(), ...allowed.map((a) => a.toLowerCase().replace(/\.$/, ""))]);
  return names.has(name) || name.endsWith(".localhost");
}

/** Health, readiness and metrics on their own listener, away from the data plane. */
export function createAdminServer(opts: AdminOptions): { server: Server; listen(): Promise<number> } {
  const server = createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (!hostAllowed(req.headers.host, opts.listen.host, opts.allowedHosts)) return json(421, { error: "this listener does not answer to that Host (see admin.allowed_hosts)" });
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
    // Bundle errors and exporters' last errors can name internal addresses and files: states only, unless a
    // responder or reviewer asks.
    const report = () => (opts.reader?.(req) ? statusReport(opts.status!) : statesOnly(statusReport(opts.status!)));
    if (url === "/status" && opts.status) return json(200, report());
    // OPA serves the same document wrapped in `result`: tools written for OPA find it there.
    if (url === "/v1/status" && opts.status) return json(200, { result: report() });
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
