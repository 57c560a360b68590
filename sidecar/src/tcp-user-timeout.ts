import { createRequire } from "node:module";
import type { Socket } from "node:net";

// linux/tcp.h: the option is a level-IPPROTO_TCP unsigned int in milliseconds.
const IPPROTO_TCP = 6;
const TCP_USER_TIMEOUT = 18;

type SetSockOpt = (fd: number, level: number, name: number, value: Buffer, length: number) => number;

let loaded: SetSockOpt | Error | undefined;

/**
 * Node offers keepalive but not TCP_USER_TIMEOUT, and keepalive only probes an idle connection: a peer that
 * vanishes while bytes to it are still unacknowledged (a reply sent just before its node died, a result
 * streaming to it) is retried for tcp_retries2, about fifteen minutes, with its transaction and locks held
 * upstream. libc's setsockopt through koffi (docs/decisions/0006-tcp-user-timeout.md) bounds that too.
 */
function setsockopt(): SetSockOpt | Error {
  if (loaded) return loaded;
  if (process.platform !== "linux") return (loaded = new Error(`TCP_USER_TIMEOUT is set on Linux only (this is ${process.platform})`));
  try {
    const koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi");
    let libc: ReturnType<typeof koffi.load> | undefined;
    let failure: unknown;
    for (const name of ["libc.so.6", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`]) {
      try {
        libc = koffi.load(name);
        break;
      } catch (err) {
        failure = err;
      }
    }
    if (!libc) throw failure;
    loaded = libc.func("int setsockopt(int, int, int, const void *, uint32_t)") as SetSockOpt;
  } catch (err) {
    loaded = new Error(`libc's setsockopt could not be loaded: ${(err as Error).message}`);
  }
  return loaded;
}

/** Sets TCP_USER_TIMEOUT on a connected socket; returns why not when it could not. */
export function setTcpUserTimeout(socket: Socket, ms: number): string | undefined {
  const fn = setsockopt();
  if (fn instanceof Error) return fn.message;
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) return "the socket has no file descriptor";
  const value = Buffer.alloc(4);
  value.writeUInt32LE(ms);
  return fn(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, value, 4) === 0 ? undefined : "setsockopt(TCP_USER_TIMEOUT) failed";
}
