import { readFileSync } from "node:fs";
import type { Socket } from "node:net";

/**
 * Bytes the kernel still holds for the peer of `socket` (sent but not acknowledged, or not sent yet), from
 * /proc/net/tcp{,6}; undefined where that cannot be read. Node shows only its own queue (writableLength):
 * once that has been handed over, megabytes may still wait in the kernel for an agent that stopped reading.
 * Read only when an operator ends a session, never per message.
 */
export function unsentBytes(socket: Socket): number | undefined {
  const local = socket.localPort;
  const remote = socket.remotePort;
  if (local === undefined || remote === undefined) return undefined;
  const port = (p: number) => `:${p.toString(16).toUpperCase().padStart(4, "0")}`;
  let found: number | undefined;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      const f = line.trim().split(/\s+/);
      // The same port pair under another address counts too: when in doubt, the agent is taken as not reading.
      if (!f[1]?.endsWith(port(local)) || !f[2]?.endsWith(port(remote))) continue;
      const tx = parseInt(f[4]?.split(":")[0] ?? "", 16);
      if (Number.isFinite(tx)) found = Math.max(found ?? 0, tx);
    }
  }
  return found;
}
