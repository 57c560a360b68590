import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { xssiPrefix, XssiStrip } from "./xssi.js";

describe("xssiPrefix", () => {
  it.each([
    [")]}'\n{}", ")]}'\n"],
    [")]}',\r\n[]", ")]}',\r\n"],
    ["while(1);{}", "while(1);"],
    ["for (;;);{}", "for (;;);"],
    ["false", ""],
    ['{"a":")]}\'"}', ""],
    [")]}'{}", ""],
  ])("%j: %j", (text, prefix) => {
    expect(xssiPrefix(text)).toBe(prefix);
  });
});

describe("XssiStrip, at every split point", () => {
  it.each([
    [")]}'\n{\"a\":1}", ")]}'\n", '{"a":1}'],
    ["while(1);[1]", "while(1);", "[1]"],
    ['{"a":1}', "", '{"a":1}'],
    ["false", "", "false"],
    ["f", "", "f"],
  ])("%j", async (body, prefix, rest) => {
    for (let cut = 0; cut <= body.length; cut++) {
      let seen = "";
      let passedBeforePrefix = false;
      const strip = new XssiStrip((p) => (seen = p));
      const out: Buffer[] = [];
      strip.on("data", (d: Buffer) => {
        if (seen === "" && prefix !== "") passedBeforePrefix = true;
        out.push(d);
      });
      await new Promise((resolve) => {
        strip.on("end", resolve);
        Readable.from([body.slice(0, cut), body.slice(cut)].filter((c) => c !== "").map((c) => Buffer.from(c))).pipe(strip);
      });
      expect([seen, Buffer.concat(out).toString(), passedBeforePrefix]).toEqual([prefix, rest, false]);
    }
  });
});
