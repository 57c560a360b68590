import { once } from "node:events";
import { createServer, connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { whenTrue } from "../../test/support/wait.js";
import { unsentBytes } from "./unsent.js";

describe("unsentBytes", () => {
  it("sees what the kernel holds for a peer that stopped reading, and nothing once it has read", async () => {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const accepted = once(server, "connection") as Promise<[Socket]>;
    const peer = connect((server.address() as { port: number }).port, "127.0.0.1");
    peer.pause();
    const [sock] = await accepted;
    try {
      expect(unsentBytes(sock)).toBe(0);
      // More than the paused peer's receive buffer takes: the rest waits in this side's kernel.
      const total = 2 << 20;
      sock.write(Buffer.alloc(total));
      await whenTrue(() => (unsentBytes(sock) ?? 0) > 0);
      let n = 0;
      peer.on("data", (d: Buffer) => (n += d.length));
      peer.resume();
      await whenTrue(() => n === total && unsentBytes(sock) === 0);
    } finally {
      peer.destroy();
      sock.destroy();
      server.close();
    }
  });
});
