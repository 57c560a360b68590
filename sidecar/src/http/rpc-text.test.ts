import { describe, expect, it } from "vitest";
import { withoutRequestId } from "./rpc-text.js";

const t = (s: string) => withoutRequestId(Buffer.from(s, "utf8"));

describe("withoutRequestId", () => {
  it.each([
    ['{"jsonrpc":"2.0","id":1,"method":"m"}', '{"jsonrpc":"2.0","id":null,"method":"m"}'],
    ['{"id":"abc","method":"m"}', '{"id":null,"method":"m"}'],
    // Only the top-level id: one inside the params is part of what runs.
    ['{"id":2,"params":{"id":7}}', '{"id":null,"params":{"id":7}}'],
    [' { "id" : [1,{"a":2}] , "m" : "x" } ', ' { "id" : null , "m" : "x" } '],
    ['{"id":1,"id":2}', '{"id":null,"id":null}'],
    ['{"a":"\\"id\\"","id":3}', '{"a":"\\"id\\"","id":null}'],
  ])("%s", (body, expected) => {
    expect(t(body)).toBe(expected);
  });

  it("keeps every other byte: duplicate keys and number spellings stay apart", () => {
    expect(t('{"id":1,"a":1,"a":9}')).not.toBe(t('{"id":1,"a":9}'));
    expect(t('{"id":1,"a":9007199254740993}')).not.toBe(t('{"id":1,"a":9007199254740992}'));
  });

  it("gives up on what it cannot read as UTF-8 JSON", () => {
    expect(withoutRequestId(Buffer.from([0x7b, 0xff, 0x7d]))).toBeUndefined();
    expect(t("[1,2]")).toBeUndefined();
    expect(t('{"id":1')).toBeUndefined();
  });
});
