import { describe, expect, it } from "vitest";
import { LineJoiner } from "./lines.js";

describe("LineJoiner", () => {
  const text = Buffer.from(`{"a":1}\n{"b":"${"x".repeat(9000)}"}\n{"c":3}\n`);

  it("passes on only whole lines, whatever the split points", () => {
    for (const cuts of [[1], [7], [8], [4000, 8000], [8, 9017], [text.length - 1], Array.from({ length: 60 }, (_, i) => i * 157 + 3)]) {
      const j = new LineJoiner();
      const out: Buffer[] = [];
      let at = 0;
      for (const c of [...cuts, text.length]) {
        const piece = j.push(text.subarray(at, c));
        at = c;
        if (piece) {
          expect(piece[piece.length - 1]).toBe(0x0a);
          out.push(Buffer.from(piece));
        }
      }
      expect(j.flush()).toBeUndefined();
      expect(Buffer.concat(out).toString()).toBe(text.toString());
    }
  });

  it("keeps what follows the last newline until its line completes, and ends it at exit", () => {
    const j = new LineJoiner();
    expect(j.push(Buffer.from('{"a":1}\n{"b"'))?.toString()).toBe('{"a":1}\n');
    expect(j.push(Buffer.from(':2}'))).toBeUndefined();
    expect(j.flush()?.toString()).toBe('{"b":2}\n');
    expect(j.flush()).toBeUndefined();
  });

  it("does not hold a line without bound", () => {
    const j = new LineJoiner(1024);
    expect(j.push(Buffer.alloc(600, 0x61))).toBeUndefined();
    expect(j.push(Buffer.alloc(600, 0x61))?.length).toBe(1201);
  });
});
