import { describe, expect, it } from "vitest";
import type { Pending } from "../pending.js";
import { Frontend, type Frame } from "../protocol/index.js";
import type { AnalysisResult } from "../sql/types.js";
import { copyInClient, copyInFailed, copyInStarted, expectCopyIn } from "./copy-in.js";
import type { SessionState } from "./state.js";

/** Only what copy-in.ts reads and writes of a session. */
function session(): SessionState & { sent: number[] } {
  const sent: number[] = [];
  return { pending: [], whenAnswered: [], copyIn: undefined, sent, toServer: (b: Buffer) => void sent.push(b[0]!) } as unknown as SessionState & { sent: number[] };
}

const frame = (type: number): Frame => {
  const raw = Buffer.from([type, 0, 0, 0, 4]);
  return { type, raw, body: raw.subarray(5) };
};

const copies = (...directions: ("from" | "to")[]) =>
  ({ statements: directions.map((direction) => ({ copy: { direction, target: "stdio", query: false } })) }) as unknown as AnalysisResult;

describe("copy-in", () => {
  it("a CopyInResponse for nothing regate sent ends the session", () => {
    const s = session();
    expect(() => copyInStarted(s, undefined)).toThrow(/did not send/);
    const entry: Pending = { kind: "query", index: 0 };
    s.pending.push(entry);
    expectCopyIn(s, entry, copies("to"));
    expect(s.copyIn).toBeUndefined();
    expect(() => copyInStarted(s, entry)).toThrow(/did not send/);
  });

  it("waits for the server, then passes copy messages, drops Sync, refuses anything else", () => {
    const s = session();
    const entry: Pending = { kind: "query", index: 0 };
    s.pending.push(entry);
    expectCopyIn(s, entry, copies("from"));
    expect(copyInClient(s, frame(Frontend.Sync))).toBeInstanceOf(Promise);
    copyInStarted(s, entry);
    expect(copyInClient(s, frame(Frontend.CopyData))).toBe(true);
    expect(copyInClient(s, frame(Frontend.Sync))).toBe(true);
    expect(copyInClient(s, frame(Frontend.Flush))).toBe(true);
    expect(() => copyInClient(s, frame(Frontend.Query))).toThrow(/during COPY FROM STDIN/);
    expect(copyInClient(s, frame(Frontend.CopyDone))).toBe(true);
    expect(s.sent.map((t) => String.fromCharCode(t)).join("")).toBe("dHc");
    expect(s.copyIn).toBeUndefined();
    expect(copyInClient(s, frame(Frontend.Sync))).toBeUndefined();
  });

  it("an error while the COPY's message is answered ends the copy; so does the message's end", () => {
    const s = session();
    const entry: Pending = { kind: "query", index: 0 };
    s.pending.push(entry);
    expectCopyIn(s, entry, copies("from", "from"));
    copyInStarted(s, entry);
    copyInFailed(s, entry);
    expect(s.copyIn).toBeUndefined();
    expectCopyIn(s, entry, copies("from"));
    s.pending.shift();
    expect(copyInClient(s, frame(Frontend.Query))).toBeUndefined();
    expect(s.copyIn).toBeUndefined();
  });
});
