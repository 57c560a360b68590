// Interleaved A/B of two or more regate trees on pgbench: CPU per transaction, same database, same moment.
//
//   npx tsx sidecar/bench/ab-pgbench.ts new=. old=/tmp/old-tree[@/path/to/bundle.tar.gz][+node-flag...] [--modes prepared,simple] [--rounds 4] [--seconds 4] [--profile dir]
//
// Flags after `+` go to that tree's node (`semi=.+--max-semi-space-size=64` compares a V8 setting on one tree).
// Each tree is a checkout with a compiled build (`npx tsc -p tsconfig.json` there: dist/) and, unless a bundle
// is named after `@`, its own build/bundle.tar.gz (naming one bundle for all trees separates code from policy).
// A worktree of another commit: `git worktree add /tmp/old <commit>`, then link node_modules and build it.
//
// Every tree's regate runs at once against one pgbench database; each round runs pgbench (8 clients) against
// each in turn, the order reversed every other round, so drifting background load hits them alike. The figure
// is the regate process's CPU (user + system, /proc) over the transactions pgbench counted: on a shared
// 2-core machine it is what least depends on what else runs; throughput is printed but not compared.
// How this found a 15-25% regression: docs/benchmarks.md, sixteenth pass.
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { startChild, tempDir, waitFor, type Child } from "./support/children.js";
import { pgbench, pgbenchDatabase, type QueryMode } from "./support/pgbench.js";
import { cpuMs } from "./support/proc.js";
import { BENCH_AGENT, buildRegateConfig } from "./support/regate.js";

interface Tree {
  name: string;
  root: string;
  bundle: string;
  nodeFlags: string[];
}

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const trees: Tree[] = process.argv
  .slice(2)
  .filter((a, i, all) => a.includes("=") && !all[i - 1]?.startsWith("--"))
  .map((spec) => {
    const eq = spec.indexOf("=");
    const [name, rest] = [spec.slice(0, eq), spec.slice(eq + 1)];
    const [where, ...nodeFlags] = rest.split("+");
    const [root, bundle] = where!.split("@", 2) as [string, string | undefined];
    return { name, root: resolve(root), bundle: resolve(bundle ?? join(root, "build", "bundle.tar.gz")), nodeFlags };
  });
if (trees.length < 2) {
  process.stderr.write("usage: ab-pgbench.ts name=tree[@bundle][+node-flag...] name=tree[@bundle][+node-flag...] ... [--modes m,m] [--rounds n] [--seconds n] [--profile dir]\n");
  process.exit(2);
}
const modes = option("modes", "prepared,simple").split(",") as QueryMode[];
const rounds = Number(option("rounds", "4"));
const seconds = Number(option("seconds", "4"));
const profileDir = option("profile", "");

interface Running {
  tree: Tree;
  child: Child;
  port: number;
}

async function start(tree: Tree, db: Awaited<ReturnType<typeof pgbenchDatabase>>): Promise<Running> {
  const dir = tempDir(`regate-ab-${tree.name}-`);
  const config = join(dir, "regate.yaml");
  writeFileSync(config, stringify(buildRegateConfig({ name: tree.name, pg: db, decisionLog: true, bundle: tree.bundle })));
  const logFile = join(dir, "regate.log");
  const fd = openSync(logFile, "w");
  const prof = profileDir ? ["--cpu-prof", "--cpu-prof-dir", join(resolve(profileDir), tree.name)] : [];
  const child = startChild(`regate-${tree.name}`, process.execPath, [...tree.nodeFlags, ...prof, join(tree.root, "dist", "sidecar", "src", "main.js"), "run", "--config", config], {
    cwd: tree.root,
    env: { ...process.env, BENCH_UPSTREAM_PASSWORD: db.users.scram.password },
    stdout: fd,
  });
  closeSync(fd);
  const port = await waitFor(`regate ${tree.name} to listen`, () => {
    const m = /"port":(\d+).*"msg":"postgres listener ready"/.exec(readFileSync(logFile, "utf8"));
    return m ? Number(m[1]) : undefined;
  });
  return { tree, child, port };
}

const db = await pgbenchDatabase(2, (line) => console.log(line));
const running: Running[] = [];
try {
  for (const tree of trees) running.push(await start(tree, db));
  const totals = new Map<string, { cpuMs: number; tx: number }>();
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      for (const r of round % 2 === 0 ? running : [...running].reverse()) {
        const before = cpuMs(r.child.pid) ?? NaN;
        const out = await pgbench({ label: r.tree.name, port: r.port, user: BENCH_AGENT.user, password: BENCH_AGENT.token, database: db.database }, { mode, clients: 8, threads: 2, seconds });
        const used = (cpuMs(r.child.pid) ?? NaN) - before;
        const key = `${mode} ${r.tree.name}`;
        const t = totals.get(key) ?? { cpuMs: 0, tx: 0 };
        totals.set(key, { cpuMs: t.cpuMs + used, tx: t.tx + out.transactions });
        console.log(`round ${round + 1} ${key}: ${Math.round((used * 1000) / out.transactions)} us CPU/tx, ${out.tps} tps`);
      }
    }
  }
  console.log("\nCPU per transaction over all rounds:");
  for (const [key, t] of totals) console.log(`  ${key.padEnd(24)} ${String(Math.round((t.cpuMs * 1000) / t.tx)).padStart(5)} us (${t.tx} transactions)`);
} finally {
  for (const r of running) await r.child.stop("SIGTERM", 20_000);
  await db.stop();
}
