import { connect, createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { simpleQuery } from "./simple-query.js";

const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

describe("simpleQuery", () => {
  it("rejects at once on a socket that is already closed (it would wait for ever for a reply)", async () => {
    const server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const socket = connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.destroy();
    await new Promise((r) => socket.once("close", r));
    await expect(simpleQuery(socket, "SELECT 1")).rejects.toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
    server.close();
  });
});
