import type { Socket } from "node:net";
import { serialize } from "pg-protocol";
import { RegateError } from "../errors.js";
import { Backend, FrameReader, decodeNotice, readyStatus } from "./protocol/index.js";

/**
 * Runs one simple Query on an idle connection that nothing else is reading, and returns its rows
 * as text. For regate's own catalog and session-setup queries, never for agent traffic.
 */
export function simpleQuery(socket: Socket, sql: string, leftover?: Buffer): Promise<(string | null)[][]> {
  return new Promise((resolve, reject) => {
    // A closed socket emits no more "close": the reply would be awaited for ever.
    if (socket.destroyed || !socket.writable) {
      reject(new RegateError("UPSTREAM_UNAVAILABLE", "upstream connection is closed"));
      return;
    }
    const reader = new FrameReader(64 << 20);
    const rows: (string | null)[][] = [];
    let error: RegateError | undefined;
    const done = (err?: unknown) => {
      socket.removeListener("data", onData);
      socket.removeListener("close", onClose);
      socket.removeListener("error", onClose);
      if (err) reject(err);
      else if (error) reject(error);
      else resolve(rows);
    };
    const onClose = () => done(new RegateError("UPSTREAM_UNAVAILABLE", "upstream closed during an internal query"));
    const onData = (chunk: Buffer) => {
      try {
        reader.push(chunk, (f) => {
          if (f.type === Backend.DataRow) {
            const n = f.body.readInt16BE(0);
            const row: (string | null)[] = [];
            let off = 2;
            for (let i = 0; i < n; i++) {
              const len = f.body.readInt32BE(off);
              off += 4;
              row.push(len < 0 ? null : f.body.toString("utf8", off, off + len));
              if (len > 0) off += len;
            }
            rows.push(row);
          } else if (f.type === Backend.ErrorResponse) {
            const e = decodeNotice(f.body);
            error = new RegateError("INTERNAL", `internal query failed: ${e["C"]} ${e["M"]}`);
          } else if (f.type === Backend.ReadyForQuery) {
            readyStatus(f.body);
            done();
            return false;
          }
          return true;
        });
      } catch (err) {
        done(err);
      }
    };
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.once("error", onClose);
    if (leftover?.length) onData(leftover);
    socket.write(serialize.query(sql));
  });
}

/** A SQL string literal; standard_conforming_strings is pinned on, so only quotes need doubling. */
export function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
