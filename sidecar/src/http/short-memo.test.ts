import { describe, expect, it } from "vitest";
import { ShortMemo } from "./short-memo.js";

describe("ShortMemo", () => {
  it("computes a short text once and hands out the same frozen result", () => {
    let calls = 0;
    const memo = new ShortMemo((t: string) => ({ n: ++calls, parts: t.split("/") }));
    const a = memo.get("/a/b");
    expect(memo.get("/a/b")).toBe(a);
    expect(calls).toBe(1);
    expect(Object.isFrozen(a) && Object.isFrozen(a.parts)).toBe(true);
  });

  it("computes texts longer than its limit every time", () => {
    let calls = 0;
    const memo = new ShortMemo((t: string) => ({ t, n: ++calls }), 4);
    memo.get("/long");
    memo.get("/long");
    expect(calls).toBe(2);
  });

  it("starts over when full, and still answers rightly", () => {
    let calls = 0;
    const memo = new ShortMemo((t: string) => `${t}:${++calls}`, 16, 2);
    expect([memo.get("a"), memo.get("b"), memo.get("c"), memo.get("a")]).toEqual(["a:1", "b:2", "c:3", "a:4"]);
    expect(memo.get("c")).toBe("c:3");
  });
});
