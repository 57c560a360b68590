// The captured seeds (capture-seeds.ts) are real traffic, and regate's decoders read all of it: every message
// psql, psycopg, asyncpg, pgx, JDBC and node-postgres sent, and every message PostgreSQL answered, frames with
// nothing left over and decodes without an error. A decoder that starts refusing something a real driver
// sends fails here, before any fuzzing.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as P from "../../src/postgres/protocol/index.js";
import { decodeBackend, decodeFrontend, ROOT } from "./targets.js";

const CLIENTS = ["psql", "psycopg", "asyncpg", "pgx", "jdbc", "node-pg"] as const;
/** Message types each client's scenario must have sent: proof the capture is the protocol path it claims. */
const SENT: Record<(typeof CLIENTS)[number], string[]> = {
  psql: ["Q", "X"],
  psycopg: ["P", "B", "E", "S", "Q"],
  asyncpg: ["P", "B", "E", "S", "D", "Q"],
  pgx: ["P", "B", "E", "S", "D"],
  jdbc: ["P", "B", "E", "S"],
  "node-pg": ["Q", "P", "B", "D", "E", "S", "X"],
};

function frames(stream: Buffer, startup: boolean): P.Frame[] {
  const r = new P.FrameReader(1 << 20, startup);
  const out: P.Frame[] = [];
  r.push(stream, (f) => {
    out.push(f);
    if (startup) r.endStartupPhase();
  });
  expect(r.buffered, "bytes left over after the last whole message").toBe(0);
  return out;
}

describe.each(CLIENTS)("captured %s traffic", (client) => {
  const seeds = JSON.parse(readFileSync(`${ROOT}testdata/fuzz/seeds/${client}.json`, "utf8")) as Record<"startup" | "frontend" | "backend", string[]>;
  const hex = (k: "startup" | "frontend" | "backend") => seeds[k].map((h) => Buffer.from(h, "hex"));

  it("the startup packets decode", () => {
    expect(seeds.startup.length).toBeGreaterThan(0);
    for (const packet of hex("startup")) {
      for (const f of frames(packet, true)) {
        const s = P.decodeStartup(f.body);
        expect(["startup", "ssl", "gssenc"]).toContain(s.kind);
      }
    }
  });

  it("every message the client sent frames and decodes", () => {
    // Chunks were deduplicated, so their concatenation is not the session; each chunk held whole messages
    // (drivers write a message or a pipeline at once, far below 4 KiB here).
    const types = new Set<string>();
    for (const chunk of hex("frontend")) {
      for (const f of frames(chunk, false)) {
        types.add(String.fromCharCode(f.type));
        decodeFrontend(f);
      }
    }
    for (const t of SENT[client]) expect(types, `${client} sent no '${t}' message`).toContain(t);
  });

  it("every message PostgreSQL answered decodes", () => {
    const types = new Set<string>();
    for (const chunk of hex("backend")) {
      // The one-byte answer to SSLRequest is not a message.
      if (chunk.length === 1) continue;
      for (const f of frames(chunk, false)) {
        types.add(String.fromCharCode(f.type));
        decodeBackend(f);
      }
    }
    for (const t of ["R", "S", "K", "Z", "T", "D", "C", "E"]) expect(types, `PostgreSQL sent ${client} no '${t}' message`).toContain(t);
  });
});
