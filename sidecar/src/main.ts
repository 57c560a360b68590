#!/usr/bin/env node
import { runCli } from "./cli/index.js";

// argv -> subcommand; the exit code is the subcommand's.
runCli(process.argv.slice(2), process.env).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`regate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
