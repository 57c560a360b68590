import type { Socket } from "node:net";
import { RegateError } from "../errors.js";
import { FrameReader, type Frame } from "./protocol/index.js";

/**
 * Pull-style reading for handshakes (SSL, auth): `await next()` one message at a time. Frames are
 * copied here because handshakes are few and short; the data path reads frames in place instead.
 */
export class MessageQueue {
  #frames: Frame[] = [];
  #waiter: { resolve: (f: Frame) => void; reject: (e: unknown) => void } | undefined;
  #error: unknown;
  #socket!: Socket;
  readonly #onData = (chunk: Buffer) => {
    try {
      this.reader.push(chunk, (f) => {
        this.#frames.push({ type: f.type, body: Buffer.from(f.body), raw: Buffer.from(f.raw) });
      });
    } catch (err) {
      this.#fail(err);
    }
    this.#wake();
  };
  readonly #onEnd = () => this.#fail(new RegateError("PROTOCOL_VIOLATION", "client closed the connection during startup"));
  readonly #onError = (err: unknown) => this.#fail(err);

  constructor(readonly reader: FrameReader) {}

  attach(socket: Socket): void {
    this.#socket = socket;
    socket.on("data", this.#onData);
    socket.once("end", this.#onEnd);
    socket.once("close", this.#onEnd);
    socket.once("error", this.#onError);
  }

  /** Stops reading from the socket; returns frames read but not consumed. */
  detach(): Frame[] {
    this.#socket.removeListener("data", this.#onData);
    this.#socket.removeListener("end", this.#onEnd);
    this.#socket.removeListener("close", this.#onEnd);
    this.#socket.removeListener("error", this.#onError);
    const rest = this.#frames;
    this.#frames = [];
    return rest;
  }

  /** Messages already received beyond the ones consumed (an SSLRequest must come alone). */
  get backlog(): number {
    return this.#frames.length + this.reader.buffered;
  }

  next(timeoutMs = 30_000): Promise<Frame> {
    const f = this.#frames.shift();
    if (f) return Promise.resolve(f);
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new RegateError("PROTOCOL_VIOLATION", "timed out waiting for the client during startup"));
      }, timeoutMs);
      this.#waiter = {
        resolve: (frame) => (clearTimeout(timer), resolve(frame)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
  }

  #wake(): void {
    if (!this.#waiter) return;
    const w = this.#waiter;
    const f = this.#frames.shift();
    if (f) {
      this.#waiter = undefined;
      w.resolve(f);
    } else if (this.#error) {
      this.#waiter = undefined;
      w.reject(this.#error);
    }
  }

  #fail(err: unknown): void {
    this.#error ??= err;
    this.#wake();
  }
}
