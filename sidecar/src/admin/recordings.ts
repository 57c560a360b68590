import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import type { Logger } from "../log.js";
import { findRecording, formatTimeline, noteRead, readRecords, recordingFiles, shownText, summarize, verifyDir, type JournalHead, type RecordingSummary } from "../recording/index.js";
import { bearerIdentity, sendJson, type AdminHandler, type Person } from "./bearer.js";
import { recordingsPage } from "./recordings-page.js";

/**
 * Session recordings for people who investigate (docs/recording.md):
 *   GET /recordings/ui          the page (holds no data; its script calls the API with the reader's token)
 *   GET /recordings             the sessions recorded, newest first
 *   GET /recordings/{session}   one session: its records, its timeline, whether it verifies
 *   GET /recordings/head        the journal's head, signed: to keep off the host (verify --journal-head)
 * The API needs `Authorization: Bearer <token>` of a responder or a reviewer. Each read is logged with
 * the reader's name and written to the directory's reads.log; a read that cannot be written to reads.log
 * is refused (503), so no read goes unaudited.
 */
export function recordingsHandler(dir: string, readers: readonly Person[], log: Logger, key?: KeyObject, head?: () => JournalHead, agentTokens?: () => readonly string[]): AdminHandler {
  const readerOf = bearerIdentity(readers, agentTokens);
  return (req, res, url) => {
    if (url !== "/recordings" && !url.startsWith("/recordings/")) return false;
    if (req.method !== "GET" && req.method !== "HEAD") return sendJson(res, 405, { error: "method not allowed" }), true;
    if (url === "/recordings/ui") {
      // frame-ancestors: default-src does not cover it; another site framing the page could lead a responder
      // to type their token into it or click through sessions unawares.
      res.writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      });
      res.end(recordingsPage());
      return true;
    }
    const by = readerOf(req);
    if (!by) return sendJson(res, 401, { error: "a responder or reviewer token is required (Authorization: Bearer …); see incident.responders and approvals.reviewers" }), true;
    const audit = (action: string, session?: string, file?: string): boolean => {
      log.info({ event: "recording_read", by, action, session, file }, "recording read");
      try {
        noteRead(dir, { by, via: "admin", action, ...(session ? { session } : {}), ...(file ? { file } : {}) });
        return true;
      } catch (err) {
        log.error({ err, dir }, "cannot write reads.log; recording read refused");
        sendJson(res, 503, { error: "the read cannot be audited (reads.log not writable); try again when the recording directory is writable" });
        return false;
      }
    };
    try {
      const parts = url.split("/").filter(Boolean);
      if (parts.length === 1) {
        if (!audit("list")) return true;
        const rows = recordingFiles(dir).map((f) => shownSummary(summarize(dir, f))).reverse();
        return sendJson(res, 200, { recordings: rows }), true;
      }
      if (parts.length !== 2) return sendJson(res, 404, { error: "not found" }), true;
      if (parts[1] === "head" && head) return sendJson(res, 200, head()), true;
      let session: string;
      try {
        session = decodeURIComponent(parts[1]!);
      } catch {
        // A malformed escape (`%E0%A4%A`) is the reader's mistake, not a failure of the directory.
        return sendJson(res, 400, { error: "the session in the path is not valid percent-encoding" }), true;
      }
      // Only names of files in the directory are ever opened (findRecording): `..`, `/` or `%2F` name nothing.
      const file = findRecording(dir, session);
      if (!file) return sendJson(res, 404, { error: `no recording of session ${session} (a session id, a unique prefix of one, or a file name)` }), true;
      if (!audit("replay", session, file)) return true;
      const records = readRecords(join(dir, file));
      const report = verifyDir(dir, file, key);
      sendJson(res, 200, {
        summary: summarize(dir, file),
        records,
        timeline: formatTimeline(records).split("\n").filter(Boolean),
        verify: { ok: report.ok, problems: report.problems, open: report.open.length > 0 },
      });
    } catch (err) {
      log.error({ err, dir }, "reading recordings failed");
      sendJson(res, 500, { error: "reading the recording directory failed; see regate's log" });
    }
    return true;
  };
}


/**
 * A session's row as the page lists it: what an agent chose (application_name) or could shape (the end
 * reason, the client) marked as the timeline and `regate recordings list` mark it, so a zero-width or bidi
 * character cannot make one session read as another's in the list a responder picks from.
 */
function shownSummary(r: RecordingSummary): RecordingSummary {
  const mark = (v: string | undefined) => (v === undefined ? undefined : shownText(v));
  const fields = { principal: mark(r.principal), application_name: mark(r.application_name), client: mark(r.client), end_reason: mark(r.end_reason) };
  return { ...r, ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) };
}
