import { describe, expect, it } from "vitest";
import { pgEvent } from "../export/test-events.js";
import { recordedDecision } from "./logged-decision.js";

describe("recordedDecision", () => {
  const masking = () => {
    const e = pgEvent("mask");
    e.decision.mask = [{ column: "customers.ssn", strategy: "redact" }] as never;
    return e;
  };

  it("keeps the mask rules the log shows", () => {
    const e = masking();
    expect(recordedDecision(e.decision, { ...e, erased: ["/input/postgres/parameters"], masked: [] })["mask"]).toEqual(e.decision.mask);
  });

  it.each([["/result/mask"], ["/result"], ["/result/mask/0"]])("drops them when the log mask erased %s", (path) => {
    const e = masking();
    expect(recordedDecision(e.decision, { ...e, erased: [path], masked: [] })["mask"]).toBeUndefined();
  });

  it("drops them when the log mask rewrote them", () => {
    const e = masking();
    expect(recordedDecision(e.decision, { ...e, erased: [], masked: ["/result/mask"] })["mask"]).toBeUndefined();
  });
});
