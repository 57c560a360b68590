// Which regate worker an upstream request came through: the upstream's socket is one end of a TCP connection
// whose other end is a file descriptor of exactly one worker process (read from /proc, Linux only).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { Socket } from "node:net";

/** The pid among `workers` that holds the other end of `socket`, accepted by an upstream listening on `upstreamPort`. */
export function workerOfUpstreamSocket(socket: Socket, upstreamPort: number, workers: readonly number[]): number | undefined {
  const port = socket.remotePort!.toString(16).toUpperCase().padStart(4, "0");
  const peer = upstreamPort.toString(16).toUpperCase().padStart(4, "0");
  let inode: string | undefined;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(`:${port}`) && f[2]?.endsWith(`:${peer}`)) inode = f[9];
    }
  }
  if (!inode) return undefined;
  for (const pid of workers) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}
