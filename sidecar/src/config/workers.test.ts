import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./load.js";
import { workerCount } from "./workers.js";

function problems(yaml: string): string[] {
  try {
    loadConfig({ text: yaml, env: {} });
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
}

describe("workers", () => {
  it("defaults to 1 (one process, no cluster), takes an integer or auto", () => {
    expect(loadConfig({ text: "", env: {} }).workers).toBe(1);
    expect(workerCount(loadConfig({ text: "workers: 3", env: {} }))).toBe(3);
    expect(workerCount(loadConfig({ text: "workers: auto", env: {} }))).toBe(Math.min(64, availableParallelism()));
    expect(workerCount(loadConfig({ text: "", env: { REGATE_WORKERS: "2" } }))).toBe(2);
  });

  it("refuses what is not a count", () => {
    for (const bad of ["0", "65", "1.5", "many"]) expect(problems(`workers: ${bad}`).join("\n")).toMatch(/^workers: /m);
  });

  it("refuses, with more than one worker, what each worker would keep its own copy of, saying what to use", () => {
    const p = problems(
      ["workers: 2", "approvals: {enabled: true, store: memory}", "recording: {enabled: true}", "export: {ocsf: {enabled: true, sink: file}}"].join("\n"),
    ).join("\n");
    expect(p).toMatch(/approvals\.store: memory cannot be shared by workers: 2 .*use approvals\.store: postgres with workers > 1/);
    expect(p).toMatch(/recording\.enabled: .*hash-chained journal/);
    expect(p).toMatch(/export\.ocsf\.sink: file would be appended by every worker/);
    // The same settings with one worker are today's, and fine.
    expect(problems(["workers: 1", "approvals: {enabled: true, store: memory}", "recording: {enabled: true}", "export: {ocsf: {enabled: true, sink: file}}"].join("\n"))).toEqual([]);
  });

  it("refuses approvals' default review URL on an admin port chosen at bind time, with more than one worker", () => {
    const approvals = "approvals: {enabled: true, store: postgres}";
    const p = problems(["workers: 2", approvals, "admin: {listen: {port: 0}}"].join("\n"));
    expect(p).toEqual([
      "admin.listen.port: 0 leaves approvals without a review URL on every worker but worker 0 with workers: 2 (more than one process): only worker 0 binds the admin listener, so the notice an agent held on another worker gets, and its chat message, would name port 0; set admin.listen.port to a fixed port, or set approvals.review_url",
    ]);
    // A fixed port, a review URL, or one worker (which reads the port it bound): fine.
    expect(problems(["workers: 2", approvals, "admin: {listen: {port: 9181}}"].join("\n"))).toEqual([]);
    expect(problems(["workers: 2", "approvals: {enabled: true, store: postgres, review_url: https://regate-admin.internal/approvals/ui}", "admin: {listen: {port: 0}}"].join("\n"))).toEqual([]);
    expect(problems(["workers: 1", approvals, "admin: {listen: {port: 0}}"].join("\n"))).toEqual([]);
  });
});
