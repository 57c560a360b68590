import { describe, expect, it } from "vitest";
import { SearchPathTracker } from "./search-path.js";

// The analysis cache's last entry and factsStamp compare the tracker's array by identity: a path the server
// reports (ParameterStatus) must give a new array exactly when it adds a path, and never narrow the paths.
describe("SearchPathTracker.reported", () => {
  const start = () => new SearchPathTracker(["$user", "public"], ["$user", "public"]);

  it("adds a path no statement showed, as a new array", () => {
    const t = start();
    const before = t.current;
    t.reported("internal, public");
    expect(t.current).not.toBe(before);
    expect(t.current).toEqual(["$user", "public", "internal"]);
  });

  it("keeps the same array for a path it already holds (quoted as the server quotes it)", () => {
    const t = start();
    const before = t.current;
    t.reported('"$user", public');
    expect(t.current).toBe(before);
  });

  it("makes the path unknown when the value cannot be read, and stays unknown", () => {
    const t = start();
    t.reported('"unterminated');
    expect(t.current).toBeNull();
    t.reported("public");
    expect(t.current).toBeNull();
  });
});
