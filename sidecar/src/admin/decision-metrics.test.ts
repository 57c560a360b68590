import { AggregatorRegistry, Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { DecisionMetrics } from "./decision-metrics.js";

const BUCKETS = [0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05];
const events: [string, string, number][] = [];
for (let i = 0; i < 500; i++) events.push([["allow", "deny", "approve"][i % 3]!, i % 4 ? "postgres" : "http", ((i * 7919) % 1000) / 10_000 + (i % 5 === 0 ? 0.00002 : 0)]);

/** The same two metrics as prom-client's own Counter and Histogram would show them. */
function reference(evs: typeof events): Registry {
  const registry = new Registry();
  const c = new Counter({ name: "regate_decisions_total", help: "Decisions by outcome", labelNames: ["outcome", "kind"], registers: [registry] });
  const h = new Histogram({ name: "regate_decision_duration_seconds", help: "Time to decide (policy evaluation, validation, sinks)", buckets: BUCKETS, registers: [registry] });
  for (const [outcome, kind, s] of evs) {
    c.inc({ outcome, kind });
    h.observe(s);
  }
  return registry;
}

describe("DecisionMetrics", () => {
  it("exposes exactly what prom-client's Counter and Histogram would, across scrapes", async () => {
    const registry = new Registry();
    const m = new DecisionMetrics(registry);
    for (const [o, k, s] of events.slice(0, 200)) m.record(o, k, s);
    expect(await registry.metrics()).toBe(await reference(events.slice(0, 200)).metrics());
    // Counted after a scrape: added to what was already exposed, not lost or counted twice.
    for (const [o, k, s] of events.slice(200)) m.record(o, k, s);
    expect(await registry.metrics()).toBe(await reference(events).metrics());
    expect(await registry.metrics()).toBe(await reference(events).metrics());
  });

  it("sums across workers as the cluster aggregator does for prom-client's own", async () => {
    const [a, b] = [new Registry(), new Registry()];
    const [ma, mb] = [new DecisionMetrics(a), new DecisionMetrics(b)];
    events.forEach(([o, k, s], i) => (i % 2 ? ma : mb).record(o, k, s));
    const ours = AggregatorRegistry.aggregate([await a.getMetricsAsJSON(), await b.getMetricsAsJSON()]);
    const theirs = AggregatorRegistry.aggregate([await reference(events.filter((_, i) => i % 2)).getMetricsAsJSON(), await reference(events.filter((_, i) => !(i % 2))).getMetricsAsJSON()]);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
