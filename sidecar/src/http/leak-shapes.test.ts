// The shapes the response masker reads values in (byte-arrays.ts, mask/text-views.ts) that the leak view now
// reads too: a Uint8Array's JSON, characters that fold to ASCII or to nothing, invisible control characters.
// Each fed at every split point; must-allow texts of the same shapes pass byte for byte.

import { describe, expect, it } from "vitest";
import { decodeLayer } from "../mask/text-views.js";
import { FOLDING_LEADS } from "./leak-bytes.js";
import { LeakGuard } from "./leak-guard.js";
import { decodedNeedles, secretForms } from "./scrub.js";

const TOKEN = "upstream-secret-Tok3n";
const needles = decodedNeedles(secretForms([TOKEN]));

function guarded(text: string, cuts: number[]): { out: string; found: boolean } {
  const g = new LeakGuard(needles, false);
  const b = Buffer.from(text);
  const outs: Buffer[] = [];
  let from = 0;
  for (const c of [...cuts, b.length]) {
    outs.push(g.write(b.subarray(from, c)));
    from = c;
  }
  outs.push(g.end());
  return { out: Buffer.concat(outs).toString(), found: g.found };
}

const u8 = (s: string): string => JSON.stringify(new Uint8Array(Buffer.from(s)));

describe("the credential in a shape the masks decode is overwritten, cut at any byte", () => {
  it.each([
    ["a Uint8Array's JSON", JSON.stringify({ auth: JSON.parse(u8(TOKEN)) as unknown })],
    ["a Uint8Array's JSON, pretty-printed", JSON.stringify({ auth: JSON.parse(u8(`Bearer ${TOKEN}`)) as unknown }, null, 2)],
    ["a Uint8Array's JSON inside a JSON string", JSON.stringify({ text: JSON.stringify({ k: JSON.parse(u8(TOKEN)) as unknown }) })],
    ["a byte array of its base64", JSON.stringify({ b: [...Buffer.from(Buffer.from(`x${TOKEN}`).toString("base64"))] })],
    ["fullwidth characters", JSON.stringify({ t: [...TOKEN].map((c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join("") })],
    ["zero-width spaces between its characters", `token: ${[...TOKEN].join("\u200b")}`],
    ["soft hyphens and a BOM between them", `token: ${[...TOKEN].join("\u00ad")}\ufeff`],
    ["control characters between them", `token: ${[...TOKEN].join("\u0001")}`],
  ])("%s", (_name, text) => {
    const len = Buffer.byteLength(text);
    for (let cut = 1; cut < len; cut++) {
      const r = guarded(text, [cut]);
      expect(r.found, `cut at ${cut}`).toBe(true);
      expect(Buffer.byteLength(r.out)).toBe(len);
    }
  });
});

describe("must-allow: the same shapes without the credential pass byte for byte", () => {
  it.each([
    ["a Uint8Array's JSON", u8("someone else's bytes entirely")],
    ["a map keyed by numbers", '{"1":"a","22":{"333":4},"4444" : [5]}'],
    ["fullwidth and invisible text", "ｆｕｌｌｗｉｄｔｈ\u200bｔｅｘｔ ﬁ ①②③ ™ “quoted” — dash"],
    ["accented and CJK text", "Zoë Ünicode 名前 ąčę"],
    ["control characters", "a\u0001b\u0007c"],
  ])("%s", (_name, text) => {
    for (const cuts of [[], [1], [3], [Buffer.byteLength(text) - 1]]) {
      const r = guarded(text, cuts);
      expect(r.found).toBe(false);
      expect(r.out).toBe(text);
    }
  });
});

describe("FOLDING_LEADS", () => {
  it("names the lead byte of every character the masks read as ASCII or as nothing", () => {
    const leads = new Set<number>();
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const v = decodeLayer(String.fromCodePoint(cp));
      if (v !== undefined && v.text.length <= 3 && /^[\x00-\x7f]*$/.test(v.text)) leads.add(Buffer.from(String.fromCodePoint(cp))[0]!);
    }
    expect([...leads].sort((a, b) => a - b)).toEqual([...FOLDING_LEADS]);
  });
});
