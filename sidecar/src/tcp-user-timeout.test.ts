import { connect, createServer, Socket } from "node:net";
import koffi from "koffi";
import { describe, expect, it } from "vitest";
import { setTcpUserTimeout } from "./tcp-user-timeout.js";

// Read back through getsockopt: the kernel's own view of the option, not the setter's word.
const getsockopt = koffi.load("libc.so.6").func("int getsockopt(int, int, int, _Out_ void *, _Inout_ uint32_t *)");
const userTimeout = (s: Socket): number => {
  const out = Buffer.alloc(4);
  expect(getsockopt((s as unknown as { _handle: { fd: number } })._handle.fd, 6, 18, out, [4])).toBe(0);
  return out.readUInt32LE();
};

describe("setTcpUserTimeout", () => {
  it("sets the option on the connection", async () => {
    let accepted: Socket | undefined;
    const server = createServer((s) => (accepted = s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const client = connect((server.address() as { port: number }).port, "127.0.0.1");
    await new Promise<void>((r) => client.once("connect", () => r()));
    while (!accepted) await new Promise((r) => setTimeout(r, 5));
    expect(userTimeout(accepted)).toBe(0);
    expect(setTcpUserTimeout(accepted, 23_456)).toBeUndefined();
    expect(userTimeout(accepted)).toBe(23_456);
    client.destroy();
    accepted.destroy();
    server.close();
  });

  it("says why when the socket has no descriptor", () => {
    expect(setTcpUserTimeout(new Socket(), 1000)).toBe("the socket has no file descriptor");
  });
});
