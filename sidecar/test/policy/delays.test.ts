import { describe, expect, it } from "vitest";
import { formatStatus } from "../../src/cli/status.js";
import { backoffDelay, jitterDelay } from "../../src/policy/index.js";
import { bundlePluginState, uploaderPluginStates, type StatusReport } from "../../src/admin/index.js";

describe("poll delays", () => {
  it.each([
    { min: 60_000, max: 120_000, random: 0, want: 60_000 },
    { min: 60_000, max: 120_000, random: 0.5, want: 90_000 },
    { min: 60_000, max: 120_000, random: 0.999999, want: 119_999 },
    { min: 5_000, max: 5_000, random: 0.7, want: 5_000 },
  ])("jitter: min $min, max $max, random $random -> $want", ({ min, max, random, want }) => {
    expect(jitterDelay(min, max, random)).toBe(want);
  });

  it.each([
    { failures: 1, random: 0, want: 1_000 }, // ceiling 2 s, lower half
    { failures: 1, random: 1, want: 2_000 },
    { failures: 2, random: 0, want: 2_000 }, // ceiling 4 s
    { failures: 3, random: 1, want: 8_000 },
    { failures: 7, random: 1, want: 120_000 }, // 128 s capped at max_delay
    { failures: 500, random: 0, want: 60_000 }, // no overflow, capped
  ])("backoff after $failures failures (min 1 s, cap 120 s, random $random) -> $want ms", ({ failures, random, want }) => {
    expect(backoffDelay(failures, 1_000, 120_000, random)).toBe(want);
  });

  it("backoff never goes below 100 ms even with a tiny min delay", () => {
    expect(backoffDelay(1, 1, 10_000, 0)).toBe(100);
  });
});

describe("status", () => {
  it.each([
    { bundles: [{ name: "b" }], want: "NOT_READY" },
    { bundles: [{ name: "b", code: "BUNDLE_DOWNLOAD_FAILED" }], want: "ERROR" },
    { bundles: [{ name: "b", active_revision: "r1" }], want: "OK" },
    { bundles: [{ name: "b", active_revision: "r1", code: "BUNDLE_ROLLBACK" }], want: "WARN" },
  ] as const)("bundle plugin state $want", ({ bundles, want }) => {
    expect(bundlePluginState([...bundles])).toBe(want);
  });

  it.each([
    { name: "healthy", s: { dropped: 0, buffered: 0, last_success: "t1" }, want: { state: "OK" } },
    { name: "never reached", s: { dropped: 0, buffered: 3, last_error: "ECONNREFUSED" }, want: { state: "WARN", message: "last error: ECONNREFUSED; last success: never; 3 events buffered" } },
    { name: "dropped events", s: { dropped: 2, buffered: 0, last_success: "t1" }, want: { state: "WARN", message: "2 events dropped" } },
  ])("decision-log uploader plugin state: $name", ({ s, want }) => {
    expect(uploaderPluginStates({ decision_logs: s })).toEqual({ decision_logs: want });
  });

  it("regate status prints one aligned line per fact, times with their age", () => {
    const report: StatusReport = {
      labels: { id: "x", app: "regate" },
      bundles: {
        regate: {
          name: "regate",
          active_revision: "r2",
          source: "service",
          last_successful_activation: "2026-01-01T10:00:00.000Z",
          last_successful_download: "2026-01-01T10:00:00.000Z",
          last_request: "2026-01-01T10:04:30.000Z",
          code: "BUNDLE_SIGNATURE_INVALID",
          message: "bundle file data.json does not match its signed digest",
          last_error_time: "2026-01-01T10:04:30.000Z",
          signature: { keyid: "ci", issued_at: 1767261600 },
          metrics: { downloads: 2, not_modified: 3, activations: 1, refused: 1, download_errors: 0 },
        },
      },
      plugins: { bundle: { state: "WARN" } },
    };
    expect(formatStatus(report, new Date("2026-01-01T10:05:00.000Z"))).toBe(
      [
        "bundle regate",
        "  active revision     r2",
        "  source              service",
        "  signed by key       ci at 2026-01-01T10:00:00.000Z",
        "  last activation     2026-01-01T10:00:00.000Z (5m ago)",
        "  last download       2026-01-01T10:00:00.000Z (5m ago)",
        "  last request        2026-01-01T10:04:30.000Z (30s ago)",
        "  last error          BUNDLE_SIGNATURE_INVALID: bundle file data.json does not match its signed digest",
        "    at                2026-01-01T10:04:30.000Z (30s ago)",
        "  counts              1 activated, 1 refused, 2 downloaded, 3 not modified, 0 download errors",
        "plugins",
        "  bundle              WARN",
        "",
      ].join("\n"),
    );
  });

  it("regate status prints causes a bundle server chose without letting them act on the terminal", () => {
    // A cause quotes what the server sent (a TLS peer's certificate names, a parser's view of refused bytes).
    const report: StatusReport = {
      labels: { id: "x", app: "regate" },
      bundles: {
        regate: {
          name: "regate",
          code: "BUNDLE_DOWNLOAD_FAILED",
          message: "cannot reach the bundle server\u001b[2K",
          errors: ["certificate names \u001b]52;c;ZXZpbA==\u0007evil\u202e", "line\nforged row"],
          metrics: { downloads: 0, not_modified: 0, activations: 0, refused: 0, download_errors: 1 },
        },
      },
      plugins: { bundle: { state: "ERROR", message: "x\u009b2J" } },
    };
    const out = formatStatus(report, new Date("2026-01-01T10:05:00.000Z"));
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(out.split("\n").filter((l) => l.includes("forged row"))).toEqual([expect.stringMatching(/^ {4}cause +line.*forged row$/)]);
  });
});
