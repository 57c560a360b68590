import { Counter, Gauge, type Registry } from "prom-client";
import type { LockService } from "./service.js";

/** Incident-response metrics: live locks (read when Prometheus scrapes), sessions and HTTP requests ended by kills and locks. */
export function registerIncidentMetrics(registry: Registry, locks: LockService): { sessionEnded(by: "kill" | "lock", n?: number): void; requestsEnded(by: "lock", n: number): void } {
  new Gauge({
    name: "regate_locks_active",
    help: "Locks in force (not expired, not removed)",
    registers: [registry],
    collect() {
      this.set(locks.list().length);
    },
  });
  const ended = new Counter({ name: "regate_sessions_ended_by_operator_total", help: "Postgres sessions ended by a responder's kill or by a lock", labelNames: ["by"], registers: [registry] });
  const requests = new Counter({
    name: "regate_http_requests_ended_by_operator_total",
    help: "HTTP requests in flight (waiting for the upstream, or streaming) ended by a lock",
    labelNames: ["by"],
    registers: [registry],
  });
  return { sessionEnded: (by, n = 1) => ended.inc({ by }, n), requestsEnded: (by, n) => requests.inc({ by }, n) };
}
