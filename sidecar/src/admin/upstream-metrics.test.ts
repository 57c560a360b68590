import { AggregatorRegistry, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { UpstreamSeconds } from "./upstream-metrics.js";

const BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];
const observations: [string, number][] = [];
// Every bucket, each bound exactly, above the last one, and routes first seen late.
for (let i = 0; i < 400; i++) observations.push([["api", "none", "mcp"][i % 3]!, i % 9 === 0 ? BUCKETS[i % BUCKETS.length]! : ((i * 7919) % 1000) / 150]);
observations.push(["late", 0.002]);

/** The same metric as prom-client's own Histogram would show it. */
function reference(obs: typeof observations): Registry {
  const registry = new Registry();
  const h = new Histogram({ name: "regate_upstream_request_duration_seconds", help: "Upstream latency of HTTP requests", labelNames: ["route"], buckets: BUCKETS, registers: [registry] });
  for (const [route, s] of obs) h.observe({ route }, s);
  return registry;
}

describe("UpstreamSeconds", () => {
  it("exposes exactly what prom-client's labelled Histogram would, across scrapes", async () => {
    const registry = new Registry();
    const m = new UpstreamSeconds(registry);
    expect(await registry.metrics()).toBe(await reference([]).metrics());
    for (const [route, s] of observations.slice(0, 150)) m.observe({ route }, s);
    expect(await registry.metrics()).toBe(await reference(observations.slice(0, 150)).metrics());
    for (const [route, s] of observations.slice(150)) m.observe({ route }, s);
    expect(await registry.metrics()).toBe(await reference(observations).metrics());
    expect(await registry.metrics()).toBe(await reference(observations).metrics());
  });

  it("sums across workers as the cluster aggregator does for prom-client's own", async () => {
    const [a, b] = [new Registry(), new Registry()];
    const [ma, mb] = [new UpstreamSeconds(a), new UpstreamSeconds(b)];
    observations.forEach(([route, s], i) => (i % 2 ? ma : mb).observe({ route }, s));
    const ours = AggregatorRegistry.aggregate([await a.getMetricsAsJSON(), await b.getMetricsAsJSON()]);
    const theirs = AggregatorRegistry.aggregate([
      await reference(observations.filter((_, i) => i % 2)).getMetricsAsJSON(),
      await reference(observations.filter((_, i) => !(i % 2))).getMetricsAsJSON(),
    ]);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("starts over on a registry reset", async () => {
    const registry = new Registry();
    const m = new UpstreamSeconds(registry);
    m.observe({ route: "api" }, 0.02);
    registry.resetMetrics();
    expect(await registry.metrics()).toBe(await reference([]).metrics());
  });
});
