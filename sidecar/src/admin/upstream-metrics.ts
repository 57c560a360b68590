import type { Registry } from "prom-client";

const NAME = "regate_upstream_request_duration_seconds";
const HELP = "Upstream latency of HTTP requests";
const BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/** One route's counts: per bucket (not cumulative), the sum and the count. */
interface RouteCounts {
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * regate_upstream_request_duration_seconds, counted in plain numbers per route and handed to prom-client's
 * registry when it is scraped, as DecisionMetrics does for decisions. It is observed once per HTTP request:
 * prom-client's Histogram hashes the labels and keys its buckets by the bound as a string on every observe.
 * `observe` keeps the Histogram's signature, so the composition root's call did not change.
 */
export class UpstreamSeconds {
  readonly #routes = new Map<string, RouteCounts>();

  constructor(registry: Registry) {
    // A histogram the registry reads like its own (name, help, type, values): the buckets are ours.
    registry.registerMetric({
      name: NAME,
      help: HELP,
      type: "histogram",
      aggregator: "sum",
      get: () => Promise.resolve({ name: NAME, help: HELP, type: "histogram", values: this.#values(), aggregator: "sum" }),
      reset: () => this.#routes.clear(),
    } as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  observe(labels: { route: string }, seconds: number): void {
    let r = this.#routes.get(labels.route);
    if (!r) {
      r = { buckets: new Float64Array(BUCKETS.length), sum: 0, count: 0 };
      this.#routes.set(labels.route, r);
    }
    for (let i = 0; i < BUCKETS.length; i++) {
      if (seconds <= BUCKETS[i]!) {
        r.buckets[i]!++;
        break;
      }
    }
    r.sum += seconds;
    r.count++;
  }

  /** As prom-client's Histogram lists them: per route, the cumulative buckets, +Inf, sum, count. */
  #values() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const [route, r] of this.#routes) {
      let cumulative = 0;
      BUCKETS.forEach((le, i) => {
        cumulative += r.buckets[i]!;
        values.push({ labels: { le, route }, value: cumulative, metricName: `${NAME}_bucket` });
      });
      values.push({ labels: { le: "+Inf", route }, value: r.count, metricName: `${NAME}_bucket` });
      values.push({ labels: { route }, value: r.sum, metricName: `${NAME}_sum` });
      values.push({ labels: { route }, value: r.count, metricName: `${NAME}_count` });
    }
    return values;
  }
}
