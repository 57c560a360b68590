// The fuzz loop: round-robin over targets, mutate a corpus entry, check, record findings and slow cases.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mutate, Rng } from "./mutate.js";
import { Finding, ROOT, type Target } from "./targets.js";

export const FINDINGS_DIR = `${ROOT}testdata/fuzz`;
/** A case slower than this is a finding (a hang, or a blow-up that would stall a connection). */
export const SLOW_MS = 1000;
const CORPUS_CAP = 256;

export interface FoundCase {
  target: string;
  kind: string;
  error: string;
  input_hex: string;
}

export interface FuzzStats {
  seed: number;
  cases: number;
  perTarget: Record<string, number>;
  findings: FoundCase[];
  elapsedMs: number;
  slowestMs: number;
  maxHeapMb: number;
}

export interface FuzzOptions {
  seed: number;
  targets: Target[];
  /** Stop after this many cases in all, or at the time budget, whichever comes first. */
  maxCases: number;
  budgetMs: number;
  onProgress?: (s: FuzzStats) => void;
}

/** Checks one input; the finding it raises, if any. */
export async function checkOne(target: Target, input: Buffer): Promise<FoundCase | undefined> {
  const t0 = performance.now();
  let found: FoundCase | undefined;
  try {
    await target.check(input);
  } catch (err) {
    const f = err instanceof Finding ? err : new Finding("crash", `${(err as Error)?.name}: ${(err as Error)?.message}`);
    found = { target: target.name, kind: f.kind, error: f.message, input_hex: input.toString("hex") };
  }
  const ms = performance.now() - t0;
  if (!found && ms > SLOW_MS) found = { target: target.name, kind: "slow", error: `case took ${Math.round(ms)} ms`, input_hex: input.toString("hex") };
  return found;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzStats> {
  const rng = new Rng(opts.seed);
  const start = performance.now();
  const stats: FuzzStats = { seed: opts.seed, cases: 0, perTarget: {}, findings: [], elapsedMs: 0, slowestMs: 0, maxHeapMb: 0 };
  const seen = new Set<string>();
  // Each target's corpus: its seeds, then mutants that broke nothing (so mutations stack over generations).
  const corpora = opts.targets.map((t) => [...t.seeds]);
  let next = 0;
  while (stats.cases < opts.maxCases && performance.now() - start < opts.budgetMs) {
    const ti = next++ % opts.targets.length;
    const target = opts.targets[ti]!;
    const corpus = corpora[ti]!;
    const input = mutate(rng, rng.pick(corpus), { pool: corpus, tokens: target.tokens, maxLength: target.maxLength });
    const t0 = performance.now();
    const found = await checkOne(target, input);
    stats.slowestMs = Math.max(stats.slowestMs, performance.now() - t0);
    stats.cases++;
    stats.perTarget[target.name] = (stats.perTarget[target.name] ?? 0) + 1;
    if (found) {
      // One finding per distinct message (numbers stripped), so one bug is not reported a thousand times.
      const key = `${found.target}|${found.kind}|${found.error.replace(/\d+/g, "#")}`;
      if (!seen.has(key)) {
        seen.add(key);
        stats.findings.push(found);
      }
    } else if (rng.next() < 0.05) {
      if (corpus.length < CORPUS_CAP) corpus.push(input);
      else corpus[target.seeds.length + rng.int(CORPUS_CAP - target.seeds.length)] = input;
    }
    if (stats.cases % 2000 === 0) {
      stats.maxHeapMb = Math.max(stats.maxHeapMb, process.memoryUsage().heapUsed / 2 ** 20);
      if (stats.cases % 50_000 === 0) opts.onProgress?.({ ...stats, elapsedMs: performance.now() - start });
    }
  }
  stats.maxHeapMb = Math.max(stats.maxHeapMb, process.memoryUsage().heapUsed / 2 ** 20);
  stats.elapsedMs = performance.now() - start;
  return stats;
}

/** Writes a finding as testdata/fuzz/<target>-<hash>.json (the replay test reads these). */
export function saveFinding(f: FoundCase): string {
  mkdirSync(FINDINGS_DIR, { recursive: true });
  const name = `${f.target}-${createHash("sha256").update(f.input_hex).digest("hex").slice(0, 12)}.json`;
  writeFileSync(`${FINDINGS_DIR}/${name}`, `${JSON.stringify(f, null, 2)}\n`);
  return name;
}

export function savedFindings(): (FoundCase & { file: string })[] {
  return readdirSync(FINDINGS_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => ({ ...(JSON.parse(readFileSync(`${FINDINGS_DIR}/${file}`, "utf8")) as FoundCase), file }));
}
