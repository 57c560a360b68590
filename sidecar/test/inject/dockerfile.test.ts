// The Dockerfile cannot be built here (no Docker engine), so these are cheap guardrails: every build step
// is a Makefile target (which `make test` and CI run), every file it copies exists and is in the build
// context, and the image's entrypoint, ports, user and health check agree with the code.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { describe, expect, it } from "vitest";
import { PORTS, SIDECAR } from "../../src/inject/index.js";
import { packageRoot } from "../../src/paths.js";

interface Instruction {
  line: number;
  op: string;
  args: string;
}
interface Stage {
  name: string | undefined;
  image: string;
  workdir: string;
  steps: Instruction[];
}

/** Dockerfile -> instructions: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { line: number; text: string } | undefined;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === "" || line.startsWith("#"))) return;
    if (pending && line.startsWith("#")) return;
    const continued = line.endsWith("\\");
    const body = continued ? line.slice(0, -1).trim() : line;
    pending = pending ? { line: pending.line, text: `${pending.text} ${body}` } : { line: i + 1, text: body };
    if (continued) return;
    const m = /^(\S+)\s*(.*)$/.exec(pending.text)!;
    out.push({ line: pending.line, op: m[1]!.toUpperCase(), args: m[2]! });
    pending = undefined;
  });
  return out;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ image: m![1]!, name: m![2], workdir: "/", steps: [] });
    } else {
      const stage = stages.at(-1)!;
      if (ins.op === "WORKDIR") stage.workdir = ins.args;
      stage.steps.push(ins);
    }
  }
  return stages;
}

/** Target names defined in the Makefile (rules, not variable assignments). */
function makeTargets(makefile: string): Set<string> {
  const targets = new Set<string>();
  for (const line of makefile.split("\n")) {
    const m = /^([^\s#:=][^:=]*?)\s*:(?![:=])/.exec(line);
    if (m) for (const t of m[1]!.split(/\s+/)) targets.add(t);
  }
  return targets;
}

function makeVariable(makefile: string, name: string): string {
  const m = new RegExp(`^${name}\\s*:?=\\s*(.+)$`, "m").exec(makefile);
  if (!m) throw new Error(`Makefile has no ${name}`);
  return m[1]!.trim();
}

/** .dockerignore semantics, enough for an allowlist: the last matching pattern wins; a match on a parent directory counts. */
function inContext(path: string, dockerignore: string): boolean {
  const patterns = dockerignore
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const toRegex = (glob: string) =>
    new RegExp(
      `^${glob
        .replace(/\/+$/, "")
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*\*\//g, "\u0000")
        .replace(/\*/g, "[^/]*")
        .replace(/\?/g, "[^/]")
        .replace(/\u0000/g, "(?:.*/)?")}$`,
    );
  const prefixes = path
    .replace(/\/+$/, "")
    .split("/")
    .map((_, i, parts) => parts.slice(0, i + 1).join("/"));
  let included = true;
  for (const p of patterns) {
    const negated = p.startsWith("!");
    const re = toRegex(negated ? p.slice(1) : p);
    if (prefixes.some((prefix) => re.test(prefix))) included = negated;
  }
  return included;
}

/** Every file under `path` (or `path` itself). */
function filesUnder(path: string): string[] {
  const abs = join(packageRoot, path);
  if (!statSync(abs).isDirectory()) return [path];
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(packageRoot.length + 1));
}

const read = (f: string) => readFileSync(join(packageRoot, f), "utf8");
const dockerfile = read("Dockerfile");
const dockerignore = read(".dockerignore");
const makefile = read("Makefile");
const instructions = parseDockerfile(dockerfile);
const stages = stagesOf(instructions);
const runtime = stages.at(-1)!;
const jsonArgs = (op: string): string[] => JSON.parse(runtime.steps.find((s) => s.op === op)!.args) as string[];

describe("Dockerfile", () => {
  it("has a policy stage, a build stage and a runtime stage on pinned base images", () => {
    expect(stages.map((s) => s.name)).toEqual(["policy", "build", undefined]);
    for (const s of stages) {
      expect(s.image, `${s.image}: pin a version tag`).toMatch(/^[a-z0-9./-]+:\d+(\.\d+)+(-[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?$/);
    }
    expect(runtime.image).toMatch(/^node:20[.\d]*-[a-z]+-slim$/);
  });

  it("runs only Makefile targets (plus pruning dev dependencies)", () => {
    const targets = makeTargets(makefile);
    const runs = instructions.filter((i) => i.op === "RUN");
    expect(runs.length).toBeGreaterThan(0);
    for (const run of runs) {
      if (run.args === "npm prune --omit=dev") continue;
      const words = run.args.split(/\s+/);
      expect(words[0], `line ${run.line}: RUN ${run.args}`).toBe("make");
      const named = words.slice(1).filter((w) => !w.includes("="));
      expect(named.length, `line ${run.line}: name a target`).toBeGreaterThan(0);
      for (const t of named) expect(targets.has(t), `line ${run.line}: no Makefile target ${t}`).toBe(true);
    }
    expect(runtime.steps.filter((s) => s.op === "RUN"), "the runtime stage runs nothing").toEqual([]);
  });

  it("copies only files that exist in the repository and in the build context", () => {
    const copies = instructions.filter((i) => i.op === "COPY" && !i.args.startsWith("--from"));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const src of sources) {
        expect(existsSync(join(packageRoot, src)), `line ${copy.line}: ${src} does not exist`).toBe(true);
        const files = filesUnder(src).filter((f) => inContext(f, dockerignore));
        expect(files.length, `line ${copy.line}: .dockerignore leaves nothing of ${src}`).toBeGreaterThan(0);
      }
    }
    expect(inContext("node_modules/ajv/package.json", dockerignore)).toBe(false);
    expect(inContext(".git/config", dockerignore)).toBe(false);
    expect(inContext("sidecar/src/http/body.test.ts", dockerignore)).toBe(false);
    expect(inContext("sidecar/src/main.ts", dockerignore)).toBe(true);
  });

  it("copies from earlier stages what their Makefile targets produce", () => {
    const tsconfig = JSON.parse(read("tsconfig.json")) as { compilerOptions: { outDir: string; rootDir: string } };
    const policy = stages.find((s) => s.name === "policy")!;
    const build = stages.find((s) => s.name === "build")!;
    const expected = new Map([
      [`${policy.workdir}/${makeVariable(makefile, "BUNDLE")}`, "policy"],
      [`${build.workdir}/${tsconfig.compilerOptions.outDir}/`, "build"],
      [`${build.workdir}/node_modules/`, "build"],
      [`${build.workdir}/package.json`, "build"],
    ]);
    const fromCopies = runtime.steps.filter((s) => s.op === "COPY" && s.args.startsWith("--from"));
    const seen = fromCopies.map((c) => {
      const [, stage, src] = /^--from=(\S+)\s+(\S+)/.exec(c.args)!;
      return [src!, stage!] as const;
    });
    expect(new Map(seen)).toEqual(expected);
  });

  it("the runtime holds what the code reads at run time", () => {
    const dests = runtime.steps
      .filter((s) => s.op === "COPY")
      .map((s) => {
        const words = s.args.split(/\s+/).filter((w) => !w.startsWith("--"));
        const [src, dest] = [words[0]!, words.at(-1)!];
        const target = dest.endsWith("/") && !src.endsWith("/") ? posix.join(dest, posix.basename(src)) : dest;
        return posix.normalize(target).replace(/\/$/, "");
      });
    // paths.ts finds the package root by package.json and testdata/; validate.ts reads the decision schema.
    for (const needed of ["package.json", "node_modules", "dist", "testdata/schemas", "build/bundle.tar.gz"]) {
      expect(dests, needed).toContain(needed);
    }
    expect(read("sidecar/src/policy/validate.ts")).toContain('schemaPath("decision.schema.json")');
  });

  it("starts the compiled CLI as a non-root numeric user, with the config the Kubernetes manifests mount", () => {
    const pkg = JSON.parse(read("package.json")) as { bin: Record<string, string> };
    expect(jsonArgs("ENTRYPOINT")).toEqual(["node", pkg.bin["regate"]]);
    expect(pkg.bin["regate"]).toBe("dist/sidecar/src/main.js");
    expect(existsSync(join(packageRoot, "sidecar/src/main.ts"))).toBe(true);
    expect(jsonArgs("CMD")).toEqual(["run", "--config", SIDECAR.configFile]);
    const user = runtime.steps.find((s) => s.op === "USER")!.args;
    expect(user).toBe(`${SIDECAR.uid}:${SIDECAR.uid}`);
  });

  it("exposes the listeners' default ports and health-checks the admin /healthz with node", () => {
    const exposed = runtime.steps.find((s) => s.op === "EXPOSE")!.args.split(/\s+/).map(Number);
    expect(exposed.sort()).toEqual([PORTS.postgres, PORTS.http, PORTS.admin].sort());
    const healthcheck = runtime.steps.find((s) => s.op === "HEALTHCHECK")!.args;
    const cmd = JSON.parse(healthcheck.slice(healthcheck.indexOf("CMD") + 3).trim()) as string[];
    expect(cmd.slice(0, 2)).toEqual(["node", "-e"]);
    expect(cmd[2]).toContain(`http://127.0.0.1:${PORTS.admin}/healthz`);
  });
});
