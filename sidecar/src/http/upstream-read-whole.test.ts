// UpstreamResponse.readWhole gives readUpstreamBody's answers for a body with no content-encoding: the same
// table run through both.

import { describe, expect, it, vi } from "vitest";
import { readUpstreamBody, type ReadUpstreamResult } from "./response-body.js";
import { UpstreamResponse } from "./upstream-message.js";

type Step = (u: UpstreamResponse) => void;

const chunk =
  (text: string): Step =>
  (u) => {
    u.chunk(Buffer.from(text));
  };
const finish: Step = (u) => u.finish();
const fail: Step = (u) => u.fail();
const destroy: Step = (u) => u.destroy();
const wait: Step = () => vi.advanceTimersByTime(1000);

/** Runs the steps against one response read either way; what it answered, and whether the exchange was aborted. */
async function run(way: "whole" | "stream", steps: Step[], max = 8): Promise<{ result: ReadUpstreamResult | undefined; aborted: boolean; answers: number }> {
  let aborted = false;
  let answers = 0;
  let result: ReadUpstreamResult | undefined;
  const u = new UpstreamResponse(200, "OK", [], { resume: () => {}, abort: () => (aborted = true) });
  const done = (r: ReadUpstreamResult): void => {
    answers++;
    result = r;
  };
  if (way === "whole") expect(u.readWhole(max, 500, done)).toBe(true);
  else readUpstreamBody(u, null, max, 500, done);
  for (const step of steps) {
    step(u);
    // The stream's way answers on later ticks.
    await vi.advanceTimersByTimeAsync(0);
  }
  return { result, aborted, answers };
}

describe("readWhole answers as readUpstreamBody does", () => {
  // The last column: the body read, or why none was.
  it.each<[string, Step[], string]>([
    ["one chunk", [chunk("{}"), finish], "{}"],
    ["several chunks", [chunk('{"a"'), chunk(":1"), chunk("}"), finish], '{"a":1}'],
    ["an empty body", [finish], ""],
    ["exactly the cap", [chunk("12345678"), finish], "12345678"],
    ["over the cap", [chunk("12345"), chunk("6789"), finish], "too_large"],
    ["cut short by the upstream", [chunk("{"), fail], "aborted"],
    ["given up by regate (the agent went away)", [chunk("{"), destroy], "aborted"],
    ["quiet for the idle time", [chunk("{"), wait, chunk("}"), finish], "timeout"],
    ["chunks that keep the idle timer going", [chunk("1"), () => void vi.advanceTimersByTime(400), chunk("2"), () => void vi.advanceTimersByTime(400), finish], "12"],
  ])("%s", async (_name, steps, want) => {
    vi.useFakeTimers();
    try {
      const whole = await run("whole", steps);
      const stream = await run("stream", steps);
      expect(whole).toEqual(stream);
      expect(whole.answers).toBe(1);
      const r = whole.result!;
      expect(r.ok ? r.body.toString() : r.reason).toBe(want);
      // A body given up leaves nothing on the connection: the exchange is aborted.
      expect(whole.aborted).toBe(!r.ok);
    } finally {
      vi.useRealTimers();
    }
  });

  it("declines once the body was read the stream's way", () => {
    const u = new UpstreamResponse(200, "OK", [], { resume: () => {}, abort: () => {} });
    u.chunk(Buffer.from("{}"));
    expect(u.readWhole(8, 500, () => {})).toBe(false);
    const v = new UpstreamResponse(204, "No Content", [], { resume: () => {}, abort: () => {} });
    v.finish();
    expect(v.readWhole(8, 500, () => {})).toBe(false);
  });
});
