// A value a detector masks, cut across the events of a streamed answer: an SSN, a card and an email split at
// every place over two and three deltas of an OpenAI chat completion, an Anthropic message, an Ollama NDJSON
// chat, a plain-text event stream and the Vercel AI SDK's data stream (text/plain, read whole), from a real upstream. The agent reads the stream with a real SSE parser
// and joins the deltas as an SDK does; the joined text must not hold the value. Each event was masked on its
// own before: every split leaked. Ordinary streams (prose, code with numbers, tool-call arguments, timestamps,
// versions) come back byte for byte, and events that cannot start a value are not held at all.

import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:http";
import { createParser } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { HttpInput, MaskRule } from "../../src/decision/types.js";
import { StreamJoins } from "../../src/http/stream-joins.js";
import { until } from "../support/wait.js";
import { authed, closeServer, listen, startGateway, TestRulesDecider, type GatewayUnderTest } from "./fixtures.js";

const RULES: MaskRule[] = [
  { detector: "ssn", strategy: "redact" },
  { detector: "card", strategy: "redact" },
  { detector: "email", strategy: "redact" },
];

const VALUES = { ssn: "607-59-5353", card: "4111 1111 1111 1111", email: "jane.doe@example.com" } as const;

type Shape = "openai" | "anthropic" | "ollama" | "text" | "vercel";

/** The events an upstream of `shape` streams for `pieces` of text. */
function streamOf(shape: Shape, pieces: readonly string[]): { type: string; events: string[] } {
  switch (shape) {
    case "openai": {
      const chunk = (delta: object, finish: string | null): string =>
        `data: ${JSON.stringify({ id: "chatcmpl-9x8", object: "chat.completion.chunk", created: 1733029200, model: "gpt-4o-2024-08-06", system_fingerprint: "fp_50cad350e4", choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
      return { type: "text/event-stream", events: [chunk({ role: "assistant", content: "" }, null), ...pieces.map((p) => chunk({ content: p }, null)), chunk({}, "stop"), "data: [DONE]\n\n"] };
    }
    case "anthropic": {
      const ev = (name: string, data: object): string => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
      return {
        type: "text/event-stream",
        events: [
          ev("message_start", { message: { id: "msg_01", type: "message", role: "assistant", model: "claude-3-5-sonnet-20241022", content: [], usage: { input_tokens: 25, output_tokens: 1 } } }),
          ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
          ev("ping", {}),
          ...pieces.map((p) => ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: p } })),
          ev("content_block_stop", { index: 0 }),
          ev("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 15 } }),
          ev("message_stop", {}),
        ],
      };
    }
    case "ollama": {
      const line = (content: string, done: boolean, i: number): string => `${JSON.stringify({ model: "llama3.2", created_at: `2024-08-04T08:52:19.${String(385406455 + i)}-07:00`, message: { role: "assistant", content }, done })}\n`;
      return { type: "application/x-ndjson", events: [...pieces.map((p, i) => line(p, false, i)), line("", true, pieces.length)] };
    }
    case "text":
      return { type: "text/event-stream", events: pieces.map((p) => `data: ${p}\n\n`) };
    case "vercel":
      // The AI SDK's data stream protocol (v4), text/plain: read whole by regate.
      return {
        type: "text/plain; charset=utf-8",
        events: ['f:{"messageId":"msg-8f2a"}\n', ...pieces.map((p) => `0:${JSON.stringify(p)}\n`), 'e:{"finishReason":"stop","usage":{"promptTokens":12,"completionTokens":30},"isContinued":false}\n', 'd:{"finishReason":"stop","usage":{"promptTokens":12,"completionTokens":30}}\n'],
      };
  }
}

/** What an SDK makes of the stream: its text deltas appended. */
function joinedText(shape: Shape, body: string): string {
  if (shape === "vercel") {
    return body
      .split("\n")
      .filter((l) => l.startsWith("0:"))
      .map((l) => JSON.parse(l.slice(2)) as string)
      .join("");
  }
  if (shape === "ollama") {
    return body
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => (JSON.parse(l) as { message: { content: string | null } }).message.content ?? "")
      .join("");
  }
  let text = "";
  const parser = createParser({
    onEvent(e) {
      if (shape === "text") text += e.data;
      else if (e.data === "[DONE]") return;
      else if (shape === "openai") text += (JSON.parse(e.data) as { choices: { delta: { content?: string | null } }[] }).choices[0]!.delta.content ?? "";
      else if (e.event === "content_block_delta") text += (JSON.parse(e.data) as { delta: { text: string | null } }).delta.text ?? "";
    },
  });
  parser.feed(body);
  return text;
}

/**
 * Streams queued per request id: the upstream writes them one write per event, a turn apart (or `gaps[i]` ms
 * after event i; or, with `ready`, once `ready(i)` settles before event i).
 */
const STREAMS = new Map<string, { type: string; events: string[]; gaps?: number[]; written?: number[]; ready?: (i: number) => Promise<unknown> }>();
let nextId = 0;

function handle(req: IncomingMessage, res: ServerResponse): void {
  const id = new URL(req.url!, "http://x").searchParams.get("s")!;
  const s = STREAMS.get(id)!;
  STREAMS.delete(id);
  res.writeHead(200, { "content-type": s.type, "cache-control": "no-cache" });
  let i = 0;
  const next = (): void => {
    if (i >= s.events.length) return void res.end();
    res.write(s.events[i]!);
    s.written?.push(Date.now());
    const gap = s.gaps?.[i] ?? 0;
    i++;
    if (s.ready && i < s.events.length) void s.ready(i).then(next);
    else if (gap > 0) setTimeout(next, gap);
    else setImmediate(next);
  };
  next();
}

let upstream: Server;
let gw: GatewayUnderTest;

beforeAll(async () => {
  upstream = createServer(handle);
  const url = await listen(upstream);
  const decider = new TestRulesDecider((input) => {
    const path = (input.http as HttpInput).path;
    return path.startsWith("/d/") ? { mask: RULES } : path.startsWith("/e/") ? { mask: [{ detector: "email", strategy: "redact" }] } : {};
  });
  gw = await startGateway({ decider, routes: [{ name: "llm", prefix: "/", upstream: url }], limits: { max_body_bytes: 1 << 20, max_input_body_bytes: 8 * 1024, timeout_ms: 10_000 } });
});

afterAll(async () => {
  await gw.close();
  await closeServer(upstream);
});

/** The body the agent reads for a stream of `events` from the upstream, under detector rules (`masked`) or none. */
async function fetchStream(stream: { type: string; events: string[]; gaps?: number[] }, masked: boolean | "email" = true): Promise<string> {
  const id = String(nextId++);
  STREAMS.set(id, stream);
  const res = await fetch(`${gw.url}/${masked === "email" ? "e" : masked ? "d" : "p"}/v1/stream?s=${id}`, { headers: authed() });
  expect(res.status).toBe(200);
  return res.text();
}

/** Every way to cut `text` into 2 and 3 pieces with the cuts inside `value` (or at its edges). */
function splits(text: string, value: string): string[][] {
  const at = text.indexOf(value);
  const out: string[][] = [];
  for (let i = at; i <= at + value.length; i++) {
    out.push([text.slice(0, i), text.slice(i)]);
    for (let j = i + 1; j < at + value.length; j++) out.push([text.slice(0, i), text.slice(i, j), text.slice(j)]);
  }
  return out;
}

async function inBatches<T>(items: T[], size: number, run: (t: T) => Promise<void>): Promise<void> {
  for (let k = 0; k < items.length; k += size) await Promise.all(items.slice(k, k + size).map(run));
}

const SHAPES: Shape[] = ["openai", "anthropic", "ollama", "text", "vercel"];

describe("a detected value split across streamed events does not reach the agent whole", () => {
  for (const shape of SHAPES) {
    for (const [name, value] of Object.entries(VALUES)) {
      it(`${shape}: ${name} at every split over 2 and 3 events`, async () => {
        const text = `Sure. The customer's ${name} is ${value} as on file.`;
        const leaks: string[] = [];
        await inBatches(splits(text, value), 16, async (pieces) => {
          const joined = joinedText(shape, await fetchStream(streamOf(shape, pieces)));
          if (joined.includes(value) || joined.replace(/\s/g, "").includes(value.replace(/\s/g, ""))) leaks.push(JSON.stringify(pieces));
          expect(joined.startsWith("Sure. The customer's")).toBe(true);
          expect(joined.endsWith("as on file.")).toBe(true);
        });
        expect(leaks).toEqual([]);
      }, 60_000);
    }
  }

  it("every character its own event", async () => {
    for (const shape of SHAPES) {
      for (const value of Object.values(VALUES)) {
        const joined = joinedText(shape, await fetchStream(streamOf(shape, [...`Value: ${value} end.`])));
        // An email's local part goes out up to where it stops reading as a word (`jane.`, then `d` is held); a
        // data stream read whole is masked as one text.
        expect(joined, `${shape} ${value}`).toBe(value === VALUES.email && shape !== "vercel" ? "Value: jane.**** end." : "Value: **** end.");
      }
    }
  });

  it("the same events sent as one whole body give the same text as any split", async () => {
    for (const shape of SHAPES) {
      const text = `SSN ${VALUES.ssn}, card ${VALUES.card}, mail ${VALUES.email}.`;
      const whole = joinedText(shape, await fetchStream(streamOf(shape, [text])));
      expect(whole).not.toContain(VALUES.ssn);
      const inLocal = text.indexOf("jane.d") + "jane.d".length;
      for (const cut of [6, 9, 25, 40, inLocal, text.indexOf("@"), text.indexOf("@") + 4]) {
        expect(joinedText(shape, await fetchStream(streamOf(shape, [text.slice(0, cut), text.slice(cut)]))), `${shape} ${cut}`).toBe(whole);
      }
    }
  });

  it("an email's local part that reads as a word goes out before its @domain arrives, and the rest is masked", async () => {
    // Holding every delta that ends in a word would hold nearly every event of a model's answer.
    const text = `Write to ${VALUES.email} today.`;
    const cut = text.indexOf("jane") + 4;
    for (const shape of SHAPES) {
      const joined = joinedText(shape, await fetchStream(streamOf(shape, [text.slice(0, cut), text.slice(cut)])));
      // A data stream read whole has nothing to wait for: the address is masked whole.
      expect(joined).toBe(shape === "vercel" ? "Write to **** today." : "Write to jane**** today.");
    }
  });
});

/** Ordinary model output, as deltas of a few characters. */
const PROSE =
  "Here is the plan. First, run `npm test` on version 1.2.3 (released 2024-05-01T10:00:00Z); it takes 3.5 seconds " +
  "on 4 cores. Then call `retry(3, 250)` and check order #48213 in the 2023 report: totals were 12,345.67 and 9,876. " +
  "The port is 8080, the PID 31337, and the UUID d055efc3-3d86-4322-9401-814896b0a5d3 stays as it is. Email support if stuck.";
const TOOL_ARGS = ['{"loc', 'ation": "Par', 'is", "days": 3, "un', 'it": "c"}'];

function deltas(text: string, size: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < text.length; k += size) out.push(text.slice(k, k + size));
  return out;
}

describe("ordinary streams under detector rules pass byte for byte", () => {
  for (const shape of SHAPES) {
    for (const size of [1, 3, 7, 16]) {
      it(`${shape}, deltas of ${size}`, async () => {
        const stream = streamOf(shape, deltas(PROSE, size));
        expect(await fetchStream(stream)).toBe(stream.events.join(""));
      });
    }
  }

  it.each([
    ["digits", Array.from({ length: 100_000 }, (_v, i) => String((i * 7 + 3) % 10)).join("")],
    ["hex", Array.from({ length: 100_000 }, (_v, i) => "0123456789abcdef"[(i * 11 + 5) % 16]).join("")],
    ["base64url", Buffer.from(Array.from({ length: 75_000 }, (_v, i) => (i * 37 + 11) % 256)).toString("base64url")],
    ["snake_case", "user_account_id_".repeat(6_000)],
  ])("a run of 100k characters (%s) in 50-character deltas under the email detector, past the hold bounds", async (_name, run) => {
    // No address has a local part past 64 characters: such a run is not held (it was, to 64 KiB or 1 s, then masked).
    for (const shape of ["openai", "vercel"] as const) {
      const stream = streamOf(shape, [`Here: ${run.slice(0, 44)}`, ...deltas(run.slice(44), 50), " done. Mail ops_2@example.com"]);
      const body = await fetchStream(stream, "email");
      expect(joinedText(shape, body) === `Here: ${run} done. Mail ****`, shape).toBe(true);
      expect(body.length).toBe(stream.events.join("").length - "ops_2@example.com".length + 4);
    }
  }, 30_000);

  it("tool-call argument deltas", async () => {
    const events = TOOL_ARGS.map(
      (a, i) => `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1733029200, model: "gpt-4o", choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...(i === 0 ? { id: "call_abc123", type: "function" } : {}), function: { ...(i === 0 ? { name: "get_weather" } : {}), arguments: a } }] }, finish_reason: null }] })}\n\n`,
    );
    expect(await fetchStream({ type: "text/event-stream", events })).toBe(events.join(""));
  });

  it("deltas that cannot start a value go out before the upstream writes the next one", async () => {
    const words = "Hello there, how are you today? I am fine, thanks for asking. Shall we start the review now?".split(/(?<= )/);
    const stream = streamOf("openai", words);
    // The upstream writes each event only once the agent has the one before (or 5 s passed): an event held
    // until the next one shows would come only when the hold bound fires (StreamJoins.expire, the owner's call
    // when held events waited MAX_HOLD_MS). That call is what is checked, not the clock: a busy machine's late
    // turn is not a hold.
    const arrivals: number[] = [];
    const id = String(nextId++);
    STREAMS.set(id, { ...stream, ready: (k) => until(() => arrivals.length >= k, 5000).catch(() => undefined) });
    const expired = vi.spyOn(StreamJoins.prototype, "expire");
    try {
      const res = await fetch(`${gw.url}/d/v1/stream?s=${id}`, { headers: authed() });
      const reader = res.body!.getReader();
      let seen = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += Buffer.from(value).toString();
        const events = seen.split("\n\n").length - 1;
        while (arrivals.length < events) arrivals.push(Date.now());
      }
      expect(seen).toBe(stream.events.join(""));
      // Nothing was held until the bound.
      expect(expired).not.toHaveBeenCalled();
    } finally {
      expired.mockRestore();
    }
  }, 30_000);
});

describe("the hold bound", () => {
  it("a delta that may start a value waits at most the bound, then goes out with that part masked; the rest is masked too", async () => {
    const stream = streamOf("openai", ["SSN: 607-59", "-5353 on file."]);
    // The upstream writes the event after the one that ends in "607-59" only once the agent has that one (or
    // after 10 s): a held event that waited for the next one instead of the bound would come after it was written.
    let partialAt = -1;
    const written: number[] = [];
    const id = String(nextId++);
    STREAMS.set(id, { ...stream, written, ready: (k) => (k === 2 ? until(() => partialAt >= 0, 10_000).catch(() => undefined) : Promise.resolve()) });
    const expired = vi.spyOn(StreamJoins.prototype, "expire");
    const started = Date.now();
    const res = await fetch(`${gw.url}/d/v1/stream?s=${id}`, { headers: authed() });
    const reader = res.body!.getReader();
    let seen = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += Buffer.from(value).toString();
        if (partialAt < 0 && seen.includes("SSN: ")) partialAt = Date.now() - started;
      }
      // Went out when the bound fired, before the upstream wrote the next event; not before the bound.
      expect(expired).toHaveBeenCalled();
    } finally {
      expired.mockRestore();
    }
    expect(partialAt).toBeGreaterThanOrEqual(900);
    expect(started + partialAt).toBeLessThanOrEqual(written[2]!);
    const joined = joinedText("openai", seen);
    expect(joined).not.toContain("607-59");
    expect(joined).not.toContain("5353");
    expect(joined).toMatch(/^SSN: \*\*\*\*/);
  }, 15_000);
});
