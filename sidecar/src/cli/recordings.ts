import { existsSync, readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../config/index.js";
import type { KeyObject } from "node:crypto";
import { checkJournalHead, findRecording, formatTimeline, noteRead, printable, printableJson, publicKey, readRecords, recordingFiles, shownText, summarize, verifyDir, type JournalHead, type RecordingSummary } from "../recording/index.js";
import { loadConfigFromArgs } from "./config-arg.js";

const USAGE = `usage: regate recordings <list|show|replay|verify|pull> [options]

  list   [--principal P] [--since ISO] [--until ISO] [--outcome refused] [--json]
                       sessions recorded in the directory, oldest first
  show   <session>     the session's records, as written (JSON lines)
  replay <session> [--json] [--follow]
                       the session as a timeline: statements, requests, outcomes, rows, bytes, durations,
                       approvals, kills; --follow keeps printing a live session's records until it ends
  verify [<session>] [--public-key key.pem] [--journal-head head.json] [--json]
                       check hash chains and the journal (and with a public key, that every checkpoint,
                       close and deletion in the journal is signed by it; with a journal head taken
                       earlier from GET /recordings/head, that the journal was not cut or rewritten
                       since); exit 0 intact, 2 a problem found

  pull   --to DIR [--replica R] [--session S] [--json]
                       fetch recordings from the fleet store (recording.postgres) into DIR/<replica>/

  --dir D              the recording directory (default: recording.dir of --config, or of the embedded default)
  --config file        read recording.dir (or recording.postgres) from this config
  --store              show, replay or verify one session from the fleet store instead of a directory

Each show, replay and follow is noted in the directory's reads.log (who, when, which session).
`;

/** `regate recordings ...`: offline, reads the recording directory only. */
export function recordingsCommand(argv: string[], env: NodeJS.ProcessEnv): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        dir: { type: "string", short: "d" },
        config: { type: "string", short: "c" },
        json: { type: "boolean" },
        principal: { type: "string" },
        since: { type: "string" },
        until: { type: "string" },
        outcome: { type: "string" },
        "public-key": { type: "string" },
        "journal-head": { type: "string" },
      },
    });
  } catch (err) {
    process.stderr.write(`regate recordings: ${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  const [sub, session] = positionals;
  if (!sub || !["list", "show", "replay", "verify"].includes(sub)) {
    process.stderr.write(sub ? `regate recordings: unknown subcommand ${sub}\n${USAGE}` : USAGE);
    return 1;
  }
  const dir = recordingDir(values, env, USAGE);
  if (dir === undefined) return 1;
  if (!existsSync(dir)) {
    process.stderr.write(`regate recordings: no recording directory at ${dir}\n`);
    return 1;
  }
  let key: KeyObject | undefined;
  if (values["public-key"]) {
    try {
      key = publicKey(readFileSync(values["public-key"], "utf8"));
    } catch (err) {
      process.stderr.write(`regate recordings: --public-key ${values["public-key"]}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const out = (s: string) => process.stdout.write(s);
  const need = (): string | undefined => {
    if (!session) {
      process.stderr.write(`regate recordings ${sub}: name a session\n${USAGE}`);
      return undefined;
    }
    const file = findRecording(dir, session);
    if (!file) process.stderr.write(`regate recordings ${sub}: no recording of session ${session} in ${dir}\n`);
    return file;
  };
  switch (sub) {
    case "list": {
      const since = values.since ? Date.parse(values.since) : undefined;
      const until = values.until ? Date.parse(values.until) : undefined;
      if (Number.isNaN(since) || Number.isNaN(until)) {
        process.stderr.write("regate recordings list: --since/--until take an ISO 8601 time\n");
        return 1;
      }
      const rows = recordingFiles(dir)
        .map((f) => summarize(dir, f))
        .filter((r) => !values.principal || r.principal === values.principal)
        .filter((r) => since === undefined || Date.parse(r.started_at ?? "") >= since)
        .filter((r) => until === undefined || Date.parse(r.started_at ?? "") <= until)
        .filter((r) => values.outcome !== "refused" || r.refused > 0);
      out(values.json ? `${printableJson(JSON.stringify(rows, null, 2))}\n` : formatList(rows));
      return 0;
    }
    case "show": {
      const file = need();
      if (!file) return 1;
      auditRead(dir, "show", session!, file);
      // A C1 control or a bidi override an agent sent is shown as its JSON escape, not obeyed by the terminal.
      for (const r of readRecords(join(dir, file))) out(`${printableJson(JSON.stringify(r))}\n`);
      return 0;
    }
    case "replay": {
      const file = need();
      if (!file) return 1;
      auditRead(dir, "replay", session!, file);
      const records = readRecords(join(dir, file));
      out(values.json ? `${printableJson(JSON.stringify(records, null, 2))}\n` : formatTimeline(records));
      const report = verifyDir(dir, file, key);
      if (!report.ok) process.stderr.write(`warning: this recording does not verify: ${report.problems.map((p) => `${p.file}${p.line ? ` record ${p.line}` : ""}: ${p.message}`).join("; ")}\n`);
      return 0;
    }
    default: {
      // verify (the subcommand was checked above)
      const file = session ? need() : undefined;
      if (session && !file) return 1;
      const report = verifyDir(dir, file, key);
      if (values["journal-head"]) {
        let problem: string | undefined;
        try {
          problem = checkJournalHead(dir, JSON.parse(readFileSync(values["journal-head"], "utf8")) as JournalHead, key);
        } catch (err) {
          problem = `--journal-head ${values["journal-head"]}: ${(err as Error).message}`;
        }
        if (problem) report.problems.push({ file: "journal.jsonl", message: problem });
        report.ok = report.problems.length === 0;
      }
      if (values.json) out(`${JSON.stringify(report, null, 2)}\n`);
      else {
        for (const p of report.problems) out(`BAD  ${p.file}${p.line ? ` record ${p.line}` : ""}: ${p.message}\n`);
        for (const f of report.open) out(`OPEN ${f}: no end record yet (a live session, or regate stopped without closing it)\n`);
        out(`${report.ok ? "ok" : "FAILED"}: ${report.files} recordings, ${report.records} records, ${report.problems.length} problems\n`);
      }
      return report.ok ? 0 : 2;
    }
  }
}

function formatList(rows: RecordingSummary[]): string {
  // application_name is what an agent chose: marked as the timeline marks it, so a zero-width or bidi
  // character cannot make one session read as another's, and never run by the terminal (timeline.ts).
  const lines = rows.map((r) =>
    [r.started_at ?? "?", r.session, r.protocol ?? "postgres", r.principal ?? "?", r.client ?? "?", r.application_name ?? "", r.end_reason ?? "live", `${r.statements} ${r.protocol === "http" ? "requests" : "stmts"}`, `${r.refused} refused`, `${r.rows} rows`]
      .map((f) => shownText(f).replace(/\s+/g, " "))
      .join("  "),
  );
  return lines.map(printable).join("\n") + (lines.length ? "\n" : "(no recordings)\n");
}

/**
 * The recording directory: `--dir`, else recording.dir of `--config` (or of the embedded default). A config
 * that does not load is reported on stderr (followed by `usage`) and gives undefined.
 */
export function recordingDir(values: { dir?: string | undefined; config?: string | undefined }, env: NodeJS.ProcessEnv, usage = ""): string | undefined {
  if (values.dir) return values.dir;
  try {
    return loadConfigFromArgs(values.config, env).recording.dir;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n${usage}`);
    return undefined;
  }
}

/** Who reads: the operating-system user (an offline reader has no token). */
export function cliReader(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? "?"}`;
  }
}

/**
 * Notes the read in reads.log. A directory that cannot be written (a read-only copy taken for forensics)
 * does not stop the read: the reader can open the files anyway; it is said on stderr.
 */
export function auditRead(dir: string, action: string, session: string, file: string): void {
  try {
    noteRead(dir, { by: cliReader(), via: "cli", action, session, file });
  } catch (err) {
    process.stderr.write(`warning: this read could not be noted in ${dir}/reads.log: ${(err as Error).message}\n`);
  }
}
