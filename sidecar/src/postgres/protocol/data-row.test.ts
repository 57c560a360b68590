import { describe, expect, it } from "vitest";
import { RegateError } from "../../errors.js";
import { rewriteDataRow } from "./data-row.js";

const row = (hex: string) => Buffer.from(hex.replace(/\s/g, ""), "hex");
const all = { has: () => true };
const same = (_i: number, v: Buffer | null) => v;

describe("rewriteDataRow", () => {
  it("rewrites masked columns and keeps NULL distinct from empty", () => {
    // Three columns: 'ab', NULL, ''.
    const raw = row("44 00000014 0003 00000002 6162 ffffffff 00000000");
    expect(rewriteDataRow(raw, all, same).equals(raw)).toBe(true);
    const out = rewriteDataRow(raw, { has: (i) => i === 0 }, () => Buffer.from("***"));
    expect(out.toString("hex")).toBe("4400000015000300000003" + "2a2a2a" + "ffffffff" + "00000000");
  });

  // Found by fuzzing (testdata/fuzz/pg-backend-*.json): these were RangeErrors or silently dropped bytes.
  it.each([
    ["no column count", "44 00000004 00"],
    ["negative column count", "44 00000006 ffff"],
    ["a value length below -1", "44 0000000a 0001 fffffffe"],
    ["a value longer than the row", "44 0000000b 0001 00000005 61"],
    ["trailing bytes", "44 0000000b 0001 ffffffff 00"],
  ])("%s is a protocol violation", (_name, hex) => {
    const err = (() => {
      try {
        rewriteDataRow(row(hex), all, same);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(RegateError);
    expect((err as RegateError).code).toBe("PROTOCOL_VIOLATION");
  });
});
