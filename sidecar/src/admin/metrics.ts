import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { DecisionEvent, DecisionSink } from "../decision/index.js";
import { DecisionMetrics } from "./decision-metrics.js";
import { UpstreamSeconds } from "./upstream-metrics.js";

/** Prometheus metrics; the registry is per process instance so tests can run several. */
export class Metrics implements DecisionSink {
  readonly registry = new Registry();
  readonly #decisions = new DecisionMetrics(this.registry);
  readonly upstreamSeconds = new UpstreamSeconds(this.registry);
  readonly sessions = new Gauge({ name: "regate_active_sessions", help: "Open agent sessions", labelNames: ["protocol"], registers: [this.registry] });
  // Across workers (docs/workers.md) the value stays 1 per revision loaded, not one per worker.
  readonly bundle = new Gauge({ name: "regate_bundle_info", help: "Loaded policy bundle (value 1)", labelNames: ["revision"], aggregator: "max", registers: [this.registry] });
  readonly errors = new Counter({ name: "regate_errors_total", help: "Errors by catalog code", labelNames: ["code"], registers: [this.registry] });
  readonly httpConnectionsRefused = new Counter({
    name: "regate_http_connections_refused_total",
    help: "HTTP connections accepted over http.limits.max_connections and refused",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "regate_" });
  }

  record(e: DecisionEvent): void {
    this.#decisions.record(e.decision.outcome, e.kind ?? e.input.kind, e.metrics.timer_regate_decision_ns / 1e9);
    if (e.decision.error_code) this.errors.inc({ code: e.decision.error_code });
  }

  bundleLoaded(revision: string): void {
    this.bundle.reset();
    this.bundle.set({ revision }, 1);
  }
}
