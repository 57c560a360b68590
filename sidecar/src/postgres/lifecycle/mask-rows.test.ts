import { describe, expect, it } from "vitest";
import { Backend, FrameReader, type Frame } from "../protocol/index.js";
import { maskNotification } from "./mask-rows.js";

function notification(pid: number, channel: string, payload: string): Frame {
  const c = Buffer.from(channel + "\0");
  const p = Buffer.from(payload + "\0");
  const raw = Buffer.alloc(5 + 4 + c.length + p.length);
  raw[0] = Backend.NotificationResponse;
  raw.writeInt32BE(raw.length - 1, 1);
  raw.writeInt32BE(pid, 5);
  c.copy(raw, 9);
  p.copy(raw, 9 + c.length);
  let frame: Frame | undefined;
  new FrameReader(1 << 20).push(raw, (f) => (frame = f));
  return frame!;
}

describe("maskNotification", () => {
  it("screens the payload and keeps the pid, the channel and the framing", () => {
    const out = maskNotification(notification(42, "jobs", "done for alice@example.com"));
    let frame: Frame | undefined;
    new FrameReader(1 << 20).push(out, (f) => (frame = f));
    expect(frame!.type).toBe(Backend.NotificationResponse);
    expect(frame!.body.readInt32BE(0)).toBe(42);
    const [channel, payload] = frame!.body.subarray(4).toString("utf8").split("\0");
    expect(channel).toBe("jobs");
    expect(payload).not.toContain("alice@example.com");
  });

  it("passes an innocuous payload as the same bytes", () => {
    const f = notification(7, "jobs", "42 rows refreshed");
    expect(maskNotification(f)).toBe(f.raw);
  });
});
