import type { Logger } from "../../log.js";
import { holdClientUntil } from "./cut.js";
import { callHook } from "./decide.js";
import type { SessionState } from "./state.js";

/**
 * The agent's CancelRequest for this session. A statement held for approval is withdrawn. The cancel goes on to
 * the server (true) only while something of this session runs there: otherwise it could only hit a statement
 * sent after it (the agent, answered 57014 for the withdrawn one at once, may already have sent the next).
 */
export function cancelArrived(s: SessionState, log: Logger): boolean {
  // Forwarded Parse, Bind or Describe messages run nothing; an Execute, a Query or a FunctionCall does.
  const running = s.pending.some((p) => p.kind === "execute" || p.kind === "query" || p.kind === "function_call" || p.kind === "internal");
  const held = s.held;
  held?.abort();
  callHook(s, "cancelled", () => s.ctx.hooks.cancelled?.(s.info, s.current));
  if (!held || !running) return running;
  // Held in a pipeline behind an Execute the server has not answered (no Sync yet): it may be done, the
  // server idle. The withdrawal is answered at once, and what the agent pipelined behind it would be
  // the statement the cancel, still on its way, lands on. So regate passes it on itself and sends
  // nothing more upstream until the server has the signal (as after a budget cut, cut.ts).
  const delivered = s.cancelUpstream().catch((err: unknown) => log.warn({ err }, "cancel behind a withdrawn approval failed"));
  holdClientUntil(s, delivered);
  return false;
}
