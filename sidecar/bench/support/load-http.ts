// HTTP side of the load scenario (load.ts): many concurrent clients (autocannon, its own process) and slow
// clients that send their headers a byte at a time (slowloris).
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { packageRoot } from "../../src/paths.js";
import { run } from "./children.js";

const AUTOCANNON = join(packageRoot, "node_modules", "autocannon", "autocannon.js");

export interface HttpLoad {
  requests: number;
  per_s: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  latency_ms: { p50: number; p99: number; max: number };
}

export async function autocannon(url: string, connections: number, seconds: number, token?: string): Promise<HttpLoad> {
  const args = [AUTOCANNON, "-j", "-n", "-c", String(connections), "-d", String(seconds), "-t", "20"];
  if (token) args.push("-H", `authorization=Bearer ${token}`);
  const { stdout } = await run(process.execPath, [...args, url], { timeoutMs: (seconds + 60) * 1000 });
  const r = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as {
    requests: { total: number; average: number };
    latency: { p50: number; p99: number; max: number };
    errors: number;
    timeouts: number;
    non2xx: number;
  };
  return {
    requests: r.requests.total,
    per_s: Math.round(r.requests.average),
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    latency_ms: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
  };
}

export interface Slowloris {
  /** Sockets still open (not yet closed by the server). */
  open(): number;
  /** When each closed socket was closed, ms after it opened. */
  closedAfterMs(): number[];
  stop(): void;
}

/**
 * `n` connections that each send a request line and then one more header byte every `everyMs`, never
 * finishing the headers: the server must bound what they cost and close them (headers timeout).
 */
export function slowloris(port: number, n: number, everyMs = 1000): Slowloris {
  const sockets: Socket[] = [];
  const closed: number[] = [];
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = Date.now();
    const s = connect(port, "127.0.0.1");
    s.on("error", () => undefined);
    // Read (and drop) what the server answers: a socket nobody reads never sees the server's FIN, so it
    // would count as open after the server closed it.
    s.resume();
    s.once("close", () => closed.push(Date.now() - t0));
    s.once("connect", () => {
      s.write(`GET /api/customers/${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `);
      timers.push(setInterval(() => !s.destroyed && s.write("a"), everyMs));
    });
    sockets.push(s);
  }
  return {
    open: () => sockets.filter((s) => !s.destroyed && !s.closed).length,
    closedAfterMs: () => [...closed],
    stop: () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
    },
  };
}
