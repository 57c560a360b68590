import { describe, expect, it } from "vitest";
import { RegateError } from "../../errors.js";
import { rewriteDataRow } from "./data-row.js";

const row = (hex: string) => Buffer.from(hex.replace(/\s/g, ""), "hex");
const all = { has: () => true };
const same = () => undefined;

describe("rewriteDataRow", () => {
  it("rewrites masked columns and keeps NULL distinct from empty", () => {
    // Three columns: 'ab', NULL, ''.
    const raw = row("44 00000014 0003 00000002 6162 ffffffff 00000000");
    expect(rewriteDataRow(raw, all, same).equals(raw)).toBe(true);
    const out = rewriteDataRow(raw, { has: (i) => i === 0 }, () => Buffer.from("***"));
    expect(out.toString("hex")).toBe("4400000015000300000003" + "2a2a2a" + "ffffffff" + "00000000");
    // The callback sees where each value lies (length -1 for NULL) and may answer with a string.
    const seen: [number, string | null][] = [];
    const all3 = rewriteDataRow(raw, all, (i, r, start, len) => {
      seen.push([i, len < 0 ? null : r.toString("utf8", start, start + len)]);
      return i === 1 ? "é" : i === 2 ? null : undefined;
    });
    expect(seen).toEqual([[0, "ab"], [1, null], [2, ""]]);
    expect(all3.toString("hex")).toBe("4400000016000300000002" + "6162" + "00000002" + "c3a9" + "ffffffff");
  });

  it("copies the untouched columns around changed ones exactly, whatever their sizes", () => {
    const values = ["x", null, "", "longer value é", null, "z".repeat(300)];
    const enc = (vals: (string | null)[]) => {
      const parts = vals.map((v) => {
        const b = v === null ? Buffer.alloc(0) : Buffer.from(v);
        const h = Buffer.alloc(4);
        h.writeInt32BE(v === null ? -1 : b.length);
        return Buffer.concat([h, b]);
      });
      const body = Buffer.concat([Buffer.from([0, vals.length]), ...parts]);
      const head = Buffer.alloc(5);
      head[0] = 0x44;
      head.writeInt32BE(body.length + 4, 1);
      return Buffer.concat([head, body]);
    };
    for (let mask = 0; mask < 64; mask++) {
      const has = (i: number) => ((mask >> i) & 1) === 1;
      const out = rewriteDataRow(enc(values), { has }, (i) => (i % 2 === 0 ? "MASKED" : null));
      expect(out.equals(enc(values.map((v, i) => (has(i) ? (i % 2 === 0 ? "MASKED" : null) : v))))).toBe(true);
    }
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
