import type { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { OutBatch } from "./out-batch.js";

const bytes = (parts: Buffer[]) => Buffer.concat(parts).toString("hex");
/** Memory of its own (Buffer.from of a short string may sit right after another in Node's pool). */
const own = (text: string) => {
  const b = Buffer.alloc(text.length);
  b.write(text);
  return b;
};

describe("OutBatch", () => {
  const chunk = own("0123456789abcdef");

  it("joins views that continue one another into one view of the same memory", () => {
    const b = new OutBatch();
    b.push(chunk.subarray(0, 3));
    b.push(chunk.subarray(3, 7));
    b.push(chunk.subarray(7, 16));
    expect(b.bytes).toBe(16);
    const parts = b.take();
    expect(parts).toHaveLength(1);
    expect(parts[0]!.buffer).toBe(chunk.buffer);
    expect(parts[0]!.toString()).toBe("0123456789abcdef");
    expect(b.bytes).toBe(0);
    expect(b.take()).toEqual([]);
  });

  it.each([
    ["a gap", [[0, 3], [4, 8]]],
    ["out of order", [[4, 8], [0, 4]]],
    ["the same bytes twice", [[0, 4], [0, 4]]],
  ] as const)("keeps parts apart across %s, in order", (_name, ranges) => {
    const b = new OutBatch();
    for (const [from, to] of ranges) b.push(chunk.subarray(from, to));
    const parts = b.take();
    expect(parts).toHaveLength(2);
    expect(bytes(parts)).toBe(bytes(ranges.map(([from, to]) => chunk.subarray(from, to))));
  });

  it("keeps buffers of other memory apart, joins again after them, and skips empty ones", () => {
    const other = own("XYZ");
    const b = new OutBatch();
    b.push(chunk.subarray(0, 2));
    b.push(chunk.subarray(2, 2));
    b.push(chunk.subarray(2, 4));
    b.push(other);
    b.push(chunk.subarray(4, 6));
    b.push(chunk.subarray(6, 9));
    const parts = b.take();
    expect(parts.map((p) => p.toString())).toEqual(["0123", "XYZ", "45678"]);
    expect(parts[0]!.buffer).toBe(chunk.buffer);
  });

  it("gives every byte in order, whatever the views, at every split of a chunk", () => {
    for (let i = 0; i <= chunk.length; i++) {
      for (let j = i; j <= chunk.length; j++) {
        const b = new OutBatch();
        b.push(chunk.subarray(0, i));
        b.push(chunk.subarray(i, j));
        b.push(chunk.subarray(j));
        const parts = b.take();
        expect(parts).toHaveLength(1);
        expect(parts[0]!.toString()).toBe(chunk.toString());
      }
    }
  });

  describe("writeTo", () => {
    function sink(room = true) {
      const calls: string[] = [];
      const to = {
        writableLength: room ? 0 : 100,
        writableHighWaterMark: 16,
        write: (b: Buffer) => (calls.push(`write ${b.toString()}${b.buffer === chunk.buffer ? " (view)" : ""}`), room),
        cork: () => calls.push("cork"),
        uncork: () => calls.push("uncork"),
      };
      return { to: to as unknown as Writable, calls };
    }

    it("writes one run as one view, and nothing when nothing waits", () => {
      const b = new OutBatch();
      const { to, calls } = sink();
      expect(b.writeTo(to, false)).toBe(true);
      b.push(chunk.subarray(0, 2));
      b.push(chunk.subarray(2, 5));
      expect(b.writeTo(to, false)).toBe(true);
      expect(calls).toEqual(["write 01234 (view)"]);
      expect(b.bytes).toBe(0);
    });

    it.each([
      [true, ["write 01XY45"]],
      [false, ["cork", "write 01 (view)", "write XY", "write 45 (view)", "uncork"]],
    ] as const)("writes several parts joined (%s) or corked, in order", (join, expected) => {
      const b = new OutBatch();
      const { to, calls } = sink();
      b.push(chunk.subarray(0, 2));
      b.push(own("XY"));
      b.push(chunk.subarray(4, 6));
      expect(b.writeTo(to, join)).toBe(true);
      expect(calls).toEqual(expected);
    });

    it.each([true, false])("reports a socket that asks to wait (join %s)", (join) => {
      const b = new OutBatch();
      const { to } = sink(false);
      b.push(chunk.subarray(0, 2));
      b.push(own("XY"));
      expect(b.writeTo(to, join)).toBe(false);
      b.push(chunk.subarray(0, 2));
      expect(b.writeTo(to, join)).toBe(false);
    });
  });
});
