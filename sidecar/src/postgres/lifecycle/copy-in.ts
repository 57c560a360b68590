// COPY FROM STDIN, as the server reads the client's messages while it runs.
//
// From its CopyInResponse until the client's CopyDone or CopyFail the server reads only copy data: it
// ignores Sync and Flush, and any other message ends the connection. A Sync regate
// counted there would leave one ReadyForQuery expected too many, and every later reply matched to the
// message before its own: a masked result's rows shown under the plan of a statement that masks nothing.
// So the client's messages after a COPY FROM STDIN wait until the server has said whether it started
// copying (CopyInResponse) or is done with the message (an error, its ReadyForQuery); while it copies,
// only copy messages go through, a Sync is dropped as the server would drop it, anything else ends the
// session before it reaches the server. A CopyInResponse regate did not expect ends the session too: it cannot tell which of the
// messages it already sent the server took for copy data.
import { RegateError } from "../../errors.js";
import type { Pending } from "../pending.js";
import { Frontend, type Frame } from "../protocol/index.js";
import type { AnalysisResult } from "../sql/types.js";
import { answered } from "./names.js";
import type { SessionState } from "./state.js";

export interface CopyIn {
  /** The forwarded Query or Execute whose COPY FROM STDIN statements these are. */
  entry: Pending;
  /** Its COPY FROM STDIN statements the server has not started yet. */
  left: number;
  /** The server sent CopyInResponse and the client has not ended the copy yet. */
  copying: boolean;
}

function copiesIn(analysis: AnalysisResult | undefined): number {
  let n = 0;
  for (const st of analysis?.statements ?? []) if (st.copy?.direction === "from" && st.copy.target === "stdio") n++;
  return n;
}

/** After `entry` was sent: the server may start copying while it runs it. */
export function expectCopyIn(s: SessionState, entry: Pending, analysis: AnalysisResult | undefined): void {
  const left = copiesIn(analysis);
  if (left > 0) s.copyIn = { entry, left, copying: false };
}

/** The COPY's message is unanswered: the server may still copy for it (a copy ends before its message does). */
function open(s: SessionState, c: CopyIn): boolean {
  if (s.copyIn === c && s.pending.includes(c.entry)) return true;
  if (s.copyIn === c) s.copyIn = undefined;
  return false;
}

/**
 * Before a client message is handled: a promise to wait on while the server may be about to copy, true when
 * the message was handled as part of a running copy, undefined when it is handled as usual.
 */
export function copyInClient(s: SessionState, f: Frame): Promise<void> | true | undefined {
  const c = s.copyIn;
  if (!c || !open(s, c)) return undefined;
  if (!c.copying) {
    if (c.left === 0) return undefined;
    return answered(s, () => c.copying || !open(s, c));
  }
  switch (f.type) {
    case Frontend.CopyData:
    case Frontend.Flush:
      s.toServer(f.raw);
      return true;
    case Frontend.Sync:
      // Ignored by the server while it copies; forwarded, it could reach one that has just left the copy
      // on an error, and be answered.
      return true;
    case Frontend.CopyDone:
    case Frontend.CopyFail:
      c.copying = false;
      if (c.left === 0) s.copyIn = undefined;
      s.toServer(f.raw);
      return true;
    default:
      throw new RegateError("PROTOCOL_VIOLATION", `message type ${String.fromCharCode(f.type)} sent during COPY FROM STDIN; only CopyData, CopyDone, CopyFail, Flush and Sync are allowed until the copy ends`);
  }
}

/** The server's CopyInResponse: only for a COPY FROM STDIN regate sent and is waiting on. */
export function copyInStarted(s: SessionState, head: Pending | undefined): void {
  const c = s.copyIn;
  if (!c || c.copying || c.left === 0 || head !== c.entry) {
    throw new RegateError("PROTOCOL_VIOLATION", "the server started a COPY FROM STDIN regate did not send");
  }
  c.left--;
  c.copying = true;
}

/** An error while the COPY's message is the one answered: the server left (or never began) the copy, and the message. */
export function copyInFailed(s: SessionState, head: Pending | undefined): void {
  if (s.copyIn && head === s.copyIn.entry) s.copyIn = undefined;
}
