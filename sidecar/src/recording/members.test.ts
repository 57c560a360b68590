import { describe, expect, it } from "vitest";
import { putMember } from "./members.js";

describe("putMember", () => {
  it("keeps __proto__ as an own member, and every value of names that collide, suffixed in order", () => {
    const o: Record<string, unknown> = {};
    putMember(o, "__proto__", { cmd: "x" });
    putMember(o, "a (2)", "taken");
    putMember(o, "a", 1);
    putMember(o, "a", 2);
    putMember(o, "a", 3);
    expect(JSON.stringify(o)).toBe('{"__proto__":{"cmd":"x"},"a (2)":"taken","a":1,"a (3)":2,"a (4)":3}');
  });

  it("suffixes 50,000 names redacted alike, in order", () => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < 50_000; i++) putMember(o, "****", i);
    const keys = Object.keys(o);
    expect(keys).toHaveLength(50_000);
    expect(keys.at(-1)).toBe("**** (50000)");
  });
});
