import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../paths.js";
import { ConfigError, loadConfig } from "./load.js";
import { configReference } from "./reference.js";
import { regateArgv } from "../../test/support/compiled-regate.js";

const load = (text: string, env: NodeJS.ProcessEnv = {}) => loadConfig({ text, env, baseDir: "/etc/regate" });

describe("loadConfig", () => {
  it("fills defaults, resolves secrets and relative paths, and freezes", () => {
    const cfg = load("agents:\n  tokens:\n    - {subject: a1, token: {env: T}}\npostgres:\n  upstream: {password: {value: pw}}\n", { T: "tok-0123456789abcdef" });
    expect(cfg.postgres.listen).toEqual({ host: "127.0.0.1", port: 6432 });
    expect(cfg.policy.bundle).toBe("/etc/regate/build/bundle.tar.gz");
    expect(cfg.agents.tokens[0]!.token.reveal()).toBe("tok-0123456789abcdef");
    expect(Object.isFrozen(cfg.postgres)).toBe(true);
    expect(JSON.stringify(cfg)).not.toContain("tok\"");
    expect(JSON.stringify(cfg)).not.toContain("\"pw\"");
  });

  it("reports every problem at once, each with the path of the bad key", () => {
    let err: unknown;
    try {
      load("postgres:\n  listen: {port: 99999}\n  upstream: {sslmode: prefer, password: {env: MISSING}}\nhttp:\n  routes: [{name: r}]\nbogus: 1\n");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join("\n");
    expect(problems).toContain("postgres.listen.port");
    expect(problems).toContain("postgres.upstream.sslmode: must be one of disable, require, verify-full");
    expect(problems).toContain("http.routes.0: must have required property 'upstream'");
    expect(problems).toContain("bogus: unknown key");
  });

  it("reports YAML that does not parse by line and column, without quoting the source (an inline secret)", () => {
    for (const text of [
      'postgres:\n  upstream:\n    password: {value: "sk-live-0123456789\n    user: x\n',
      "postgres:\n  upstream:\n    password: {value: sk-live-0123456789\n",
      "postgres:\n  upstream:\n    password:\n      value: sk-live-0123456789\n     user: x\n",
    ]) {
      let err: unknown;
      try {
        load(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join("\n");
      expect(problems).toMatch(/^config: not valid YAML: .+ at line \d+, column \d+$/);
      expect(problems).not.toContain("sk-live");
    }
  });

  it("reports an environment override that is not YAML by its name, without quoting it", () => {
    let err: unknown;
    try {
      load("", { REGATE_POSTGRES__UPSTREAM__PASSWORD__VALUE: 'sk-live-0123: "456' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join("\n");
    expect(problems).toContain("REGATE_POSTGRES__UPSTREAM__PASSWORD__VALUE: not valid YAML");
    expect(problems).not.toContain("sk-live");
  });

  it("reports missing secrets by path", () => {
    expect(() => load("postgres:\n  upstream: {password: {env: NOPE}}\n")).toThrow(/postgres.upstream.password: environment variable NOPE is not set/);
  });

  it("refuses a reviewer or responder given an agent's token", () => {
    const text = [
      "agents: {tokens: [{subject: bot, token: {value: shared-1}}]}",
      "approvals: {reviewers: [{name: alice, token: {value: shared-1}}]}",
      "incident: {responders: [{name: rita, token: {value: shared-1}}]}",
    ].join("\n");
    expect(() => load(text)).toThrow(/approvals\.reviewers\[0\]\.token: the same token as an agent's[\s\S]*incident\.responders\[0\]\.token: the same token as an agent's/);
  });

  it("refuses . and .. as a recording replica's name (it names a directory when recordings are pulled)", () => {
    for (const name of [".", ".."]) expect(() => load(`recording: {enabled: true, dir: /tmp/r, postgres: {replica: "${name}"}}`)).toThrow(/recording\.postgres\.replica/);
    expect(() => load(`recording: {enabled: true, dir: /tmp/r, postgres: {replica: "pod-1.eu"}}`)).not.toThrow();
  });

  it("takes REGATE_* overrides, values read as YAML", () => {
    const cfg = load("", { REGATE_POSTGRES__LISTEN__PORT: "7777", REGATE_POLICY__DRY_RUN: "true", REGATE_POSTGRES__UPSTREAM__URL: "{env: DBURL}", DBURL: "postgres://u:s3cret@db.internal:5433/app?sslmode=require" });
    expect(cfg.postgres.listen.port).toBe(7777);
    expect(cfg.policy.dry_run).toBe(true);
    expect(cfg.postgres.upstream).toMatchObject({ host: "db.internal", port: 5433, database: "app", user: "u", sslmode: "require" });
    expect(cfg.postgres.upstream.password!.reveal()).toBe("s3cret");
  });
});

describe("regate check-config", () => {
  it("prints the normalized config with secrets redacted, or every error with exit 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "regate-cfg-"));
    const file = join(dir, "regate.yaml");
    writeFileSync(file, "postgres:\n  upstream: {password: {value: hunter2-secret}}\n");
    const out = execFileSync(process.execPath, regateArgv("check-config", "--config", file), { cwd: packageRoot, encoding: "utf8" });
    expect(JSON.parse(out).postgres.upstream.password).toBe("[secret from inline value]");
    expect(out).not.toContain("hunter2-secret");
    writeFileSync(file, "postgres: {listen: {port: -1}}\nnope: 1\n");
    let status = 0;
    let stderr = "";
    try {
      execFileSync(process.execPath, regateArgv("check-config", "--config", file), { cwd: packageRoot, encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      status = (e as { status: number }).status;
      stderr = (e as { stderr: string }).stderr;
    }
    expect(status).toBe(1);
    expect(stderr).toContain("postgres.listen.port");
    expect(stderr).toContain("nope: unknown key");
  }, 60_000);

  it("docs/config.md is generated from the schema (regenerate: npx tsx scripts/config-docs.ts)", () => {
    expect(readFileSync(join(packageRoot, "docs", "config.md"), "utf8")).toBe(configReference());
  });
});
