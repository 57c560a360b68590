import { describe, expect, it } from "vitest";
import { httpEvent } from "../export/test-events.js";
import { loggedReasons, touchesReasons } from "./logged-reasons.js";

describe("touchesReasons", () => {
  it.each([
    ["/result", true],
    ["/result/deny", true],
    ["/result/deny/0", true],
    ["/result/approve", true],
    ["/result/approve/reason", true],
    ["/result/mask", false],
    ["/result/allow", false],
    ["/input/http/parsed_body", false],
    ["/input/result/deny", false],
  ])("%s: %s", (path, touches) => expect(touchesReasons(path)).toBe(touches));
});

describe("loggedReasons", () => {
  it("a deny whose reasons the mask erased: none", () => {
    const e = { ...httpEvent("deny", "DELETE"), result: { allow: false }, erased: ["/result/deny"] };
    expect(loggedReasons(e)).toEqual([]);
  });

  it("one of two reasons erased: the other; a reason rewritten to a non-string: redacted", () => {
    const e = { ...httpEvent("deny", "DELETE"), result: { allow: false, deny: ["kept", { secret: 1 }] }, erased: ["/result/deny/1"] };
    e.decision.reasons = ["kept", "hidden", "other"];
    expect(loggedReasons(e)).toEqual(["kept", "****"]);
  });

  it("regate's own reasons (an error code) and untouched reasons stay as decided", () => {
    const errored = { ...httpEvent("deny", "DELETE"), result: undefined, erased: ["/result"] };
    errored.decision.error_code = "POLICY_EVAL_FAILED";
    expect(loggedReasons(errored)).toEqual(["writes are not allowed"]);
    expect(loggedReasons({ ...httpEvent("deny", "DELETE"), erased: ["/input/http/parsed_body"] })).toEqual(["writes are not allowed"]);
  });
});
