// Latency of one client: sequential GETs over one keep-alive connection, so each request waits for the
// previous answer and no queue forms (autocannon's many connections measure throughput, and its latencies
// are whole milliseconds). The added latency issue 14 sets a goal for is this one's p50 minus direct's.
import { Agent, request } from "node:http";

export interface OneClientLatency {
  requests: number;
  p50_us: number;
  p99_us: number;
}

function get(url: URL, agent: Agent, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers, agent }, (res) => {
      res.on("data", () => undefined);
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode} from ${url.href}`))));
    });
    req.on("error", reject);
    req.end();
  });
}

export async function oneClientLatency(url: string, headers: Record<string, string>, requests: number, warmup = 200): Promise<OneClientLatency> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const u = new URL(url);
  try {
    for (let i = 0; i < warmup; i++) await get(u, agent, headers);
    const us: number[] = [];
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      await get(u, agent, headers);
      us.push((performance.now() - t0) * 1000);
    }
    us.sort((a, b) => a - b);
    const at = (q: number) => Math.round(us[Math.min(us.length - 1, Math.floor(q * us.length))]!);
    return { requests, p50_us: at(0.5), p99_us: at(0.99) };
  } finally {
    agent.destroy();
  }
}
