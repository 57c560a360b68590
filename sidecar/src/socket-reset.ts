import type { Socket } from "node:net";

/**
 * Drops a connection with a TCP reset: what regate and the kernel still hold for the peer is discarded, where a
 * close would send it first (an agent that stopped reading would go on receiving it after a lock or a cut).
 * A socket without a plain TCP handle (TLS over it) is destroyed instead, which drops at least regate's own
 * queue; false then.
 */
export function resetConnection(socket: Socket): boolean {
  try {
    socket.resetAndDestroy();
    return true;
  } catch {
    socket.destroy();
    return false;
  }
}
