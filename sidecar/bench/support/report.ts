// What every scenario writes: build/bench/<name>.json, and the same summary as a text table.
//
// A summary row compares regate (`value`) with a baseline measured in the same run; `ratio` is value/baseline
// for throughput (higher is better), and `goal` the ratio the issue asks for, when it names one.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../../src/paths.js";

export const BENCH_DIR = join(packageRoot, "build", "bench");

export interface SummaryRow {
  metric: string;
  value: number;
  unit: string;
  baseline?: { label: string; value: number };
  ratio?: number;
  /** Minimum acceptable ratio. */
  goal?: number;
  note?: string;
}

export interface ScenarioReport {
  scenario: string;
  description: string;
  started_at: string;
  duration_s: number;
  quick: boolean;
  environment: Record<string, unknown>;
  results: unknown;
  summary: SummaryRow[];
}

/** BENCH_QUICK=1 shortens every measurement (a smoke run; its figures are not for publishing). */
export const QUICK = process.env["BENCH_QUICK"] === "1";

/** --profile or BENCH_PROFILE=1: also run regate under --cpu-prof and summarise where its time goes. */
export const PROFILE = process.env["BENCH_PROFILE"] === "1" || process.argv.includes("--profile");

/** `full` seconds normally, `quick` seconds with BENCH_QUICK=1. */
export function seconds(full: number, quick: number): number {
  return QUICK ? quick : full;
}

export function environment(): Record<string, unknown> {
  const cpu = cpus();
  let revision = "unknown";
  try {
    revision = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: packageRoot, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: packageRoot, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    if (dirty) revision += "-dirty";
  } catch {
    // Not a git checkout.
  }
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpu.length,
    cpu_model: cpu[0]?.model ?? "unknown",
    memory_gb: Math.round(totalmem() / 2 ** 30),
    loadavg_at_start: loadavg().map((l) => Math.round(l * 100) / 100),
    revision,
    regate: process.env["BENCH_COMPILED"] === "1" ? "compiled build (dist/)" : "sources under tsx",
  };
}

export function writeReport(report: ScenarioReport): string {
  mkdirSync(BENCH_DIR, { recursive: true });
  const file = join(BENCH_DIR, `${report.scenario}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

export function readReport(scenario: string): ScenarioReport | undefined {
  try {
    return JSON.parse(readFileSync(join(BENCH_DIR, `${scenario}.json`), "utf8")) as ScenarioReport;
  } catch {
    return undefined;
  }
}

/** 3 significant digits, thousands separated: 123456 -> "123,000", 0.01234 -> "0.0123". */
export function fmt(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "-";
  if (n === 0) return "0";
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(Number(n.toPrecision(3))).toLocaleString("en-US");
  return Number(n.toPrecision(3)).toString();
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function summaryTable(rows: SummaryRow[]): string {
  return table(
    ["metric", "regate", "baseline", "ratio", "goal"],
    rows.map((r) => [
      r.metric,
      `${fmt(r.value)} ${r.unit}`,
      r.baseline ? `${fmt(r.baseline.value)} (${r.baseline.label})` : "",
      r.ratio !== undefined ? `${fmt(r.ratio)}x` : "",
      r.goal !== undefined ? `>= ${r.goal}x ${r.ratio !== undefined && r.ratio >= r.goal ? "met" : "MISSED"}` : "",
    ]),
  );
}
