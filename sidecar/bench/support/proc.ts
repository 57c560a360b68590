// CPU time from /proc (Linux): what a process really spent, which a wall-clock profile or a throughput figure
// on a shared 2-core machine cannot tell apart from waiting for a core.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const TICKS_PER_S = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU milliseconds of `pid` so far; undefined when /proc cannot tell (not Linux, process gone). */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(rest[11]) + Number(rest[12])) / TICKS_PER_S) * 1000;
  } catch {
    return undefined;
  }
}

interface CpuTotals {
  busy: number;
  total: number;
}

function machineTotals(): CpuTotals | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export interface CpuWindow {
  /** CPU ms each watched process used in the window. */
  ms: Record<string, number>;
  /** Share of all cores busy during the window, percent (everything on the machine, not just us). */
  machine_busy_pct: number | undefined;
  wall_ms: number;
}

/** Starts measuring the CPU of `pids` (by label) and of the machine; call the result to stop. */
export function cpuWindow(pids: Record<string, number | undefined>): () => CpuWindow {
  const t0 = performance.now();
  const m0 = machineTotals();
  const start: Record<string, number | undefined> = {};
  for (const [label, pid] of Object.entries(pids)) start[label] = pid === undefined ? undefined : cpuMs(pid);
  return () => {
    const ms: Record<string, number> = {};
    for (const [label, pid] of Object.entries(pids)) {
      const a = start[label];
      const b = pid === undefined ? undefined : cpuMs(pid);
      if (a !== undefined && b !== undefined) ms[label] = Math.round(b - a);
    }
    const m1 = machineTotals();
    const machine_busy_pct = m0 && m1 && m1.total > m0.total ? Math.round(((m1.busy - m0.busy) / (m1.total - m0.total)) * 1000) / 10 : undefined;
    return { ms, machine_busy_pct, wall_ms: Math.round(performance.now() - t0) };
  };
}
