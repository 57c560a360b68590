// The secrets sweep's logic: every file regate wrote during the suite (build/test-output/, see
// sidecar/test/support/test-output.ts) is searched for every configured secret (each run's secrets.json) and
// every protected value of the demo data (the columns the example policy masks, and internal.api_keys). GNU
// grep does the searching (fixed strings, thousands of them, through gigabytes of decision logs).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

/** Columns whose values must never leave the database in clear: the example policy's masks, and internal.*. */
const PROTECTED: Record<string, string[]> = {
  "public.customers": ["email", "phone", "ssn", "card_number"],
  "public.payments": ["card_number"],
  "internal.api_keys": ["secret"],
};

/** Splits one VALUES tuple "(1, 'a''b', NULL)" into its literals (strings unquoted, NULL as null). */
function tuple(line: string): (string | null)[] {
  const out: (string | null)[] = [];
  let i = line.indexOf("(") + 1;
  while (i < line.length) {
    while (line[i] === " ") i++;
    if (line[i] === "'") {
      let s = "";
      for (i++; i < line.length; i++) {
        if (line[i] === "'" && line[i + 1] === "'") (s += "'"), i++;
        else if (line[i] === "'") break;
        else s += line[i];
      }
      out.push(s);
      i++;
    } else {
      const end = line.slice(i).search(/[,)]/);
      const raw = line.slice(i, i + end).trim();
      out.push(raw === "NULL" ? null : raw);
      i += end;
    }
    while (line[i] === " ") i++;
    if (line[i] !== ",") break;
    i++;
  }
  return out;
}

/** The protected values of testdata/demo/seed.sql. */
export function protectedDemoValues(seedSql: string): string[] {
  const values = new Set<string>();
  let columns: string[] | undefined;
  let wanted: string[] = [];
  for (const line of seedSql.split("\n")) {
    const head = /^INSERT INTO ([\w.]+) \(([^)]*)\) VALUES/.exec(line);
    if (head) {
      columns = head[2]!.split(",").map((c) => c.trim());
      wanted = PROTECTED[head[1]!] ?? [];
      continue;
    }
    if (!columns || !line.startsWith("(")) {
      if (!line.startsWith("(")) columns = undefined;
      continue;
    }
    const row = tuple(line);
    for (const col of wanted) {
      const v = row[columns.indexOf(col)];
      if (v) values.add(v);
    }
  }
  return [...values];
}

export interface SweepReport {
  files: number;
  bytes: number;
  manifests: number;
  secrets: number;
  protectedValues: number;
  /** Where a secret was found; the secret itself is shown only by its first characters and length. */
  hits: { file: string; what: string }[];
}

function walk(dir: string, files: string[], manifests: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, files, manifests);
    else if (e.name === "secrets.json") manifests.push(p);
    else if (e.isFile() && !e.name.includes(".input.")) files.push(p);
  }
}

export function hint(secret: string): string {
  return `${secret.slice(0, 3)}… (${secret.length} chars)`;
}

/**
 * Searches every file under `root`. Throws when there is nothing to search (no manifest, no secret, no byte):
 * a sweep that saw nothing must not pass.
 */
export function sweep(root: string, protectedValues: string[]): SweepReport {
  const files: string[] = [];
  const manifests: string[] = [];
  try {
    walk(root, files, manifests);
  } catch (err) {
    throw new Error(`secrets sweep: cannot read ${root} (${(err as Error).message}); did the suite run?`, { cause: err });
  }
  const secrets = new Set<string>();
  for (const m of manifests) for (const s of JSON.parse(readFileSync(m, "utf8")) as string[]) secrets.add(s);
  const bytes = files.reduce((a, f) => a + statSync(f).size, 0);
  const problems: string[] = [];
  if (manifests.length === 0) problems.push("no secrets.json");
  if (secrets.size === 0) problems.push("no configured secret");
  if (protectedValues.length === 0) problems.push("no protected demo value");
  if (files.length === 0 || bytes === 0) problems.push("no output written");
  if (problems.length) throw new Error(`secrets sweep has nothing to search under ${root}: ${problems.join(", ")}`);

  const patterns = [...new Set([...secrets, ...protectedValues])].filter((p) => p.length >= 6 && !p.includes("\n"));
  const work = mkdtempSync(join(tmpdir(), "regate-sweep-"));
  try {
    const list = join(work, "patterns");
    writeFileSync(list, `${patterns.join("\n")}\n`);
    // -F fixed strings, -o only the match, -a binary as text, -H file names; exit 1 means no match.
    const res = spawnSync("grep", ["-rFoaH", "-f", list, "--exclude=secrets.json", "--exclude=*.input.*", root], { maxBuffer: 256 * 1024 * 1024, encoding: "utf8" });
    if (res.status !== 0 && res.status !== 1) throw new Error(`grep failed (${res.status}): ${res.stderr}`);
    const hits = new Map<string, { file: string; what: string }>();
    for (const line of res.stdout.split("\n")) {
      if (!line) continue;
      const at = line.indexOf(":");
      const file = relative(root, line.slice(0, at));
      const found = line.slice(at + 1);
      const what = secrets.has(found) ? `configured secret ${hint(found)}` : `protected demo value ${hint(found)}`;
      hits.set(`${file}\u0000${found}`, { file, what });
    }
    return { files: files.length, bytes, manifests: manifests.length, secrets: secrets.size, protectedValues: protectedValues.length, hits: [...hits.values()] };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
