import { describe, expect, it } from "vitest";
import { parseQualifiedName } from "./relation-args.js";

describe("parseQualifiedName reads a relation name as regclass input does", () => {
  it.each([
    ["orders_id_seq", ["orders_id_seq"]],
    ["internal.api_keys_id_seq", ["internal", "api_keys_id_seq"]],
    ["Internal.API_Keys", ["internal", "api_keys"]],
    [' "Internal" . "A.b""c" ', ["Internal", 'A.b"c']],
    ["db.public.s", ["db", "public", "s"]],
    ["a.b.c.d", ["a", "b", "c", "d"]],
    ["ÄBC", ["Äbc"]],
    ["x".repeat(70), ["x".repeat(63)]],
  ])("%s", (text, want) => {
    expect(parseQualifiedName(text)).toEqual(want);
  });

  it.each(["", "16384", "a.", ".a", "a..b", '""', '"a', "a b", 'a"b"'])("gives up on %j", (text) => {
    expect(parseQualifiedName(text)).toBeUndefined();
  });
});
