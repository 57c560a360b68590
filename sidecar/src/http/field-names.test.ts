// Field rules whatever a name's spelling (field-names.ts) and wherever it is written: keys, name/value pairs,
// entries and `name=value` pairs in strings; a whole document and the same document streamed at every split
// must come out the same.

import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { REDACTED } from "../mask/index.js";
import { fieldNameFold, pairRole, PairRole } from "./field-names.js";
import { JsonMaskStream } from "./json-stream.js";
import { ResponseMasker } from "./masker.js";

const KEY = Buffer.from("k");
const SSN = "607-59-5353";
const CARD = "4111111111111111";
const RULES: MaskRule[] = [
  { field: "ssn", strategy: "redact" },
  { field: "card_number", strategy: "hash" },
  { field: "notes", detector: "email", strategy: "redact" },
];

function run(masker: ResponseMasker, chunks: Buffer[], holdChars = 8, maxTokenChars = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = new JsonMaskStream(masker, { holdChars, maxTokenChars });
    const out: Buffer[] = [];
    s.on("data", (b: Buffer) => out.push(b));
    s.on("error", reject);
    s.on("end", () => resolve(Buffer.concat(out).toString("utf8")));
    for (const c of chunks) s.write(c);
    s.end();
  });
}

/** Every split of `text` into two chunks, plus one byte per chunk. */
function splits(text: string): Buffer[][] {
  const b = Buffer.from(text, "utf8");
  const out: Buffer[][] = [[b], [...b].map((x) => Buffer.from([x]))];
  for (let i = 1; i < b.length; i++) out.push([b.subarray(0, i), b.subarray(i)]);
  return out;
}

/** The whole-document answer, after checking that every streamed split gives the same bytes. */
async function masked(m: ResponseMasker, doc: string): Promise<string> {
  const whole = m.maskJsonText(doc);
  for (const chunks of splits(doc)) expect(await run(m, chunks)).toBe(whole);
  return whole;
}

describe("fieldNameFold", () => {
  it("spelling: case and separators do not count, words do", () => {
    const fold = fieldNameFold("spelling");
    for (const k of ["card_number", "cardNumber", "CardNumber", "card-number", "Card Number", "CARD_NUMBER", "card.number", "ｃａｒｄ＿ｎｕｍｂｅｒ"]) expect(fold(k)).toBe("cardnumber");
    expect(fold("session")).not.toBe(fold("ssn"));
    expect(fold("ssn_count")).not.toBe(fold("ssn"));
    expect(fold("cardnumbers")).not.toBe(fold("card_number"));
  });

  it("case and exact keep the older matching", () => {
    expect(fieldNameFold("case")("Card_Number")).toBe("card_number");
    expect(fieldNameFold("exact")("Card_Number")).toBe("Card_Number");
  });

  it("pair keys", () => {
    for (const k of ["name", "Name", "Key", "field", "field_name", "PropertyName", "attribute", "parameter"]) expect(pairRole(k)).toBe(PairRole.Name);
    for (const k of ["value", "Value", "values", "Values"]) expect(pairRole(k)).toBe(PairRole.Value);
    for (const k of ["names", "keys", "valueFrom", "label", "id", "nameValue"]) expect(pairRole(k)).toBe(PairRole.None);
  });
});

describe("keys whatever their spelling", () => {
  const m = ResponseMasker.from(RULES, KEY)!;

  it("masks each spelling of a rule's name, whole and streamed alike", async () => {
    for (const k of ["cardNumber", "CardNumber", "card-number", "Card Number", "CARD_NUMBER", "card.number"]) {
      const out = await masked(m, JSON.stringify({ [k]: CARD, n: 1 }));
      expect(out).not.toContain(CARD);
      expect(out).toBe(m.maskJsonText(JSON.stringify({ card_number: CARD, n: 1 })).replace("card_number", k));
    }
  });

  it("leaves names that differ by more than case and separators", async () => {
    const doc = JSON.stringify({ session: CARD, cardnumbers: CARD, ssn_count: SSN, s_s: SSN, card: { number: CARD } });
    expect(await masked(m, doc)).toBe(doc);
  });

  it("case and exact matching, when a deployer keeps them", () => {
    const doc = JSON.stringify({ cardNumber: CARD, CARD_NUMBER: CARD });
    expect(ResponseMasker.from(RULES, KEY, { names: "case" })!.maskJsonText(doc)).toContain(`"cardNumber":"${CARD}"`);
    expect(ResponseMasker.from(RULES, KEY, { names: "case" })!.maskJsonText(doc)).not.toContain(`"CARD_NUMBER":"${CARD}"`);
    expect(ResponseMasker.from(RULES, KEY, { names: "exact" })!.maskJsonText(doc)).toBe(doc);
    expect(ResponseMasker.from(RULES, KEY, { caseSensitive: true })!.maskJsonText(doc)).toBe(doc);
  });

  it("JSON pointer tokens fold the same way", () => {
    const p = ResponseMasker.from([{ field: "/data/card_number", strategy: "redact" }], KEY)!;
    expect(p.maskJsonText(`{"Data":{"cardNumber":"${CARD}"},"cardNumber":"${CARD}"}`)).toBe(`{"Data":{"cardNumber":"${REDACTED}"},"cardNumber":"${CARD}"}`);
  });
});

describe("fields named by data", () => {
  const m = ResponseMasker.from(RULES, KEY)!;

  it("name/value pairs in either order, their values whole (objects and arrays too)", async () => {
    const docs = [
      { env: [{ name: "SSN", value: SSN }] },
      { Tags: [{ Key: "ssn", Value: SSN }] },
      { f: [{ field: "ssn", value: SSN, type: "text" }] },
      { p: { property_name: "SSN", values: [SSN, { v: SSN }] } },
      { v: [{ value: SSN, name: "ssn" }] },
      { v: { value: { a: [SSN, 1, null] }, extra: "x", key: "ssn" } },
      { v: [{ value: [49, 50, 51, 52, 53], name: "ssn" }] },
      { nested: { name: "ssn", value: { name: "x", value: SSN } } },
    ];
    for (const d of docs) {
      const out = await masked(m, JSON.stringify(d));
      expect(out, JSON.stringify(d)).not.toContain(SSN);
      expect(out).not.toContain("[49,");
    }
    expect(await masked(m, `{"value" : "${SSN}" , "name":"ssn"}`)).toBe(`{"value" : "${REDACTED}" , "name":"ssn"}`);
    expect(await masked(m, `[{"value":null,"name":"ssn"}]`)).toBe(`[{"value":null,"name":"ssn"}]`);
  });

  it("a pair keeps its field's strategy and detectors", async () => {
    const out = await masked(m, JSON.stringify({ a: { name: "notes", value: "mail bob@example.com, ssn 607-59-5353" }, b: { Name: "Card Number", Value: CARD } }));
    expect(out).toContain(`mail ${REDACTED}, ssn 607-59-5353`);
    expect(out).not.toContain(CARD);
    expect(out).toBe(m.maskJsonText(JSON.stringify({ a: { notes: "mail bob@example.com, ssn 607-59-5353" }, b: { card_number: CARD } })).replace('{"notes":', '{"name":"notes","value":').replace('{"card_number":', '{"Name":"Card Number","Value":'));
  });

  it("entries: a 2-element array in an array whose first element names a field", async () => {
    expect(await masked(m, `[["ssn","${SSN}"],["x","y"]]`)).toBe(`[["ssn","${REDACTED}"],["x","y"]]`);
    expect(await masked(m, `{"e":[["SSN", {"n":"${SSN}"}]]}`)).toBe(`{"e":[["SSN", {"n":"${REDACTED}"}]]}`);
    expect(await masked(m, `{"e":[[ "cardNumber" , ${CARD} ]]}`)).not.toContain(CARD);
  });

  it("must-allow: pairs and arrays that name no masked field, or are not entries", async () => {
    const docs = [
      `{"langs":["en","fr"],"pair":["ssn","${SSN}"],"rows":[["ssn","${SSN}","x"]],"one":[["ssn"]]}`,
      `[{"name":"session","value":"${SSN}"},{"Key":"Name","Value":"web"},{"name":"ssn"},{"value":"${SSN}"}]`,
      `{"name":["ssn"],"value":"${SSN}"}`,
      `{"value":[{"id":1},{"id":2}],"@odata.nextLink":"/x?$skip=2"}`,
      `[[1,2],[3.5,4.5],["a",["b","c"]],[]]`,
    ];
    for (const d of docs) expect(await masked(m, d)).toBe(d);
  });

  it("name=value pairs in strings (a URL's query or fragment, a form in a string)", async () => {
    expect(await masked(m, `{"next":"/c?page=2&ssn=${SSN}&x=1"}`)).toBe(`{"next":"/c?page=2&ssn=${encodeURIComponent(REDACTED)}&x=1"}`);
    expect(await masked(m, `{"r":"https://x/cb#Card-Number=${CARD}"}`)).not.toContain(CARD);
    expect(await masked(m, `{"f":"ssn=607%2D59%2D5353"}`)).not.toMatch(/607/);
    expect(await masked(m, `{"log":"user ssn=${SSN} ok"}`)).not.toContain(SSN);
    const allowed = `{"next":"/c?session=${SSN}&sn=1","q":"a=b","eq":"x == y","empty":"/c?ssn=&x=1"}`;
    expect(await masked(m, allowed)).toBe(allowed);
  });

  it("holds no more than the token cap while a pair's name is awaited", async () => {
    const big = `{"value":"${"a".repeat(60)}","b":"${"b".repeat(60)}","c":"${"c".repeat(60)}","name":"x"}`;
    const cut = big.indexOf('"name"');
    const chunks = [Buffer.from(big.slice(0, cut)), Buffer.from(big.slice(cut))];
    await expect(run(m, chunks, 8, 150)).rejects.toThrow(/larger than regate holds/);
    expect(await run(m, chunks, 8, 1000)).toBe(big);
  });
});
