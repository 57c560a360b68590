// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per area (regate's own modules,
// each dependency, WebAssembly, node internals, GC), as shares of the busy (non-idle) time.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../../src/paths.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  name: string;
  where: string;
  area: string;
  ms: number;
  /** Share of busy time (idle excluded), percent. */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  wall_ms: number;
  busy_ms: number;
  idle_pct: number;
  top_functions: SelfTime[];
  areas: { area: string; ms: number; pct: number }[];
}

function location(url: string): string {
  if (!url) return "";
  let path = url;
  try {
    if (url.startsWith("file://")) path = fileURLToPath(url);
  } catch {
    // Keep the URL as it is.
  }
  return path.startsWith(packageRoot) ? relative(packageRoot, path) : path;
}

/** Which part of the process a frame belongs to: a source folder of regate, a package, wasm, node, or V8. */
function areaOf(frame: CallFrame, where: string): string {
  const name = frame.functionName;
  if (name === "(garbage collector)") return "GC";
  if (name === "(program)" || name === "(root)") return "V8/native (program)";
  if (frame.url.startsWith("wasm://") || /^(js-to-wasm|wasm-to-js|\$?wasm-function)/.test(name)) return "WebAssembly";
  if (where.startsWith("node:") || where === "") return "node internals / builtins";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
  if (pkg) return `npm:${pkg[1]}`;
  const src = /^sidecar\/src\/([^/]+(?:\/[^/]+)?)\//.exec(where);
  if (src) return `regate:${src[1]}`;
  if (where.startsWith("sidecar/src/")) return `regate:${where.slice("sidecar/src/".length)}`;
  return where;
}

export function summarizeProfile(file: string, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time since the previous sample: it belongs to sample i-1.
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const fns = new Map<string, SelfTime>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const f = node.callFrame;
    if (f.functionName === "(idle)") {
      idleUs += us;
      continue;
    }
    const where = location(f.url);
    const area = areaOf(f, where);
    const key = `${f.functionName}\u0000${where}:${f.lineNumber}`;
    const entry = fns.get(key) ?? { name: f.functionName || "(anonymous)", where: where ? `${where}:${f.lineNumber + 1}` : "", area, ms: 0, pct: 0 };
    entry.ms += us / 1000;
    fns.set(key, entry);
    areas.set(area, (areas.get(area) ?? 0) + us / 1000);
  }
  const busyMs = (totalUs - idleUs) / 1000;
  const pct = (ms: number) => Math.round((ms / busyMs) * 1000) / 10;
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    file,
    wall_ms: Math.round((profile.endTime - profile.startTime) / 1000),
    busy_ms: round(busyMs),
    idle_pct: totalUs ? Math.round((idleUs / totalUs) * 1000) / 10 : 0,
    top_functions: [...fns.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((f) => ({ ...f, ms: round(f.ms), pct: pct(f.ms) })),
    areas: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, ms]) => ({ area, ms: round(ms), pct: pct(ms) })),
  };
}

export function formatProfile(s: ProfileSummary, areas = 12): string {
  const lines = [`profile ${s.file}: ${s.wall_ms} ms wall, ${s.busy_ms} ms busy, ${s.idle_pct}% idle`, "  self time by area:"];
  for (const a of s.areas.slice(0, areas)) lines.push(`    ${String(a.pct).padStart(5)}%  ${a.area}`);
  lines.push("  top functions by self time:");
  for (const f of s.top_functions) lines.push(`    ${String(f.pct).padStart(5)}%  ${f.name}  ${f.where}`);
  return lines.join("\n");
}
