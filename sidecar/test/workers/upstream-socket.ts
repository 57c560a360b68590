// Which regate worker an upstream request came through: the upstream's socket is one end of a TCP connection
// whose other end is a file descriptor of exactly one worker process (read from /proc, Linux only).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { Socket } from "node:net";

const ESTABLISHED = "01";
const known = new WeakMap<Socket, number>();

/** The inode of the live connection from local port `port` to `peer` (hex); a TIME_WAIT twin has inode 0. */
function inodeOf(port: string, peer: string): string | undefined {
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(`:${port}`) && f[2]?.endsWith(`:${peer}`) && f[3] === ESTABLISHED && f[9] !== "0") return f[9];
    }
  }
  return undefined;
}

/**
 * The pid among `workers` that holds the other end of `socket`, accepted by an upstream listening on
 * `upstreamPort`. Only a found worker is remembered: a miss is looked up again on the socket's next request,
 * since regate keeps upstream connections alive and one wrong answer would otherwise stick to all of them.
 */
export function workerOfUpstreamSocket(socket: Socket, upstreamPort: number, workers: readonly number[]): number | undefined {
  const cached = known.get(socket);
  if (cached !== undefined) return cached;
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  const inode = inodeOf(hex(socket.remotePort!), hex(upstreamPort));
  if (!inode) return undefined;
  for (const pid of workers) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) {
          known.set(socket, pid);
          return pid;
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}
