import { describe, expect, it } from "vitest";
import { digestParameters, parameterInputs } from "./parameters.js";

const int4 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const f8 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(n);
  return b;
};

describe("digestParameters", () => {
  it("is the policy's view for values it shows exactly (the documented digest)", () => {
    const values = [Buffer.from("11"), null, Buffer.from(""), int4(7), Buffer.from("héllo")];
    const formats = [0, 0, 0, 1, 1];
    const types = [0, 0, 25, 23, 25];
    expect(digestParameters(values, formats, types)).toEqual(parameterInputs(values, formats, types));
  });

  it.each([
    ["a value past the policy's cut", [Buffer.from("a".repeat(5000) + "x")], [Buffer.from("a".repeat(5000) + "y")], [0], [0]],
    ["text that is not UTF-8", [Buffer.from([0x61, 0xff])], [Buffer.from([0x61, 0xfe])], [0], [0]],
    ["a binary bool byte", [Buffer.from([1])], [Buffer.from([2])], [1], [16]],
    ["a binary float's sign of zero", [f8(0)], [f8(-0)], [1], [701]],
  ] as const)("tells apart what the policy's view folds together: %s", (_name, a, b, formats, types) => {
    expect(parameterInputs(a, formats, types)).toEqual(parameterInputs(b, formats, types));
    expect(digestParameters(a, formats, types)).not.toEqual(digestParameters(b, formats, types));
  });
});
