import { describe, expect, it } from "vitest";
import { httpEvent } from "../export/test-events.js";
import { loggedViewOf, noteLoggedView } from "./logged-decisions.js";

describe("loggedViewOf", () => {
  it("the latest decision's view; a copy of it, or an earlier decision, has none", () => {
    const first = httpEvent("allow", "GET");
    const second = httpEvent("deny", "DELETE");
    noteLoggedView(first.decision, first);
    expect(loggedViewOf(first.decision)).toBe(first);
    expect(loggedViewOf({ ...first.decision })).toBeUndefined();
    noteLoggedView(second.decision, second);
    expect(loggedViewOf(second.decision)).toBe(second);
    expect(loggedViewOf(first.decision)).toBeUndefined();
  });
});
