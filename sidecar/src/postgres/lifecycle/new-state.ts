import type { SessionInput } from "../../decision/index.js";
import { NO_READING_SETTINGS } from "../reading-settings.js";
import { SearchPathTracker } from "../search-path.js";
import { AnalysisCache } from "./analyse.js";
import { DecisionReuse } from "./reuse.js";
import type { SessionContext, SessionState } from "./state.js";

/** What the stages reach the sockets through; the session (session.ts) owns the sockets. */
export type SessionIo = Pick<SessionState, "toServer" | "toClient" | "watchClient" | "cancelUpstream" | "pauseUpstream">;

/** Until the upstream says otherwise (session-start.ts reads its search_path): PostgreSQL's default. */
export const DEFAULT_SEARCH_PATH = ["$user", "public"];

/** A session's state before its first statement: no names, nothing pending, the server idle. */
export function newSessionState(ctx: SessionContext, info: SessionInput, io: SessionIo): SessionState {
  return {
    ctx,
    info,
    log: ctx.log,
    pending: [],
    statements: new Map(),
    portals: new Map(),
    prepared: new Map(),
    cursors: new Map(),
    holdCursors: new Set(),
    definitionsUnsettled: false,
    unkeptHoldMasked: false,
    preparedTaken: new Map(),
    sqlNamesInFlight: 0,
    batchSqlNames: false,
    whenAnswered: [],
    temporary: new Map(),
    analyses: new AnalysisCache(),
    reuse: new DecisionReuse(),
    searchPath: new SearchPathTracker(DEFAULT_SEARCH_PATH, DEFAULT_SEARCH_PATH),
    reading: NO_READING_SETTINGS,
    user: "",
    txStatus: 0x49,
    skipUntilSync: false,
    serverSkipping: false,
    groupFailed: false,
    group: [],
    batchWrapped: false,
    batchCounted: false,
    batchChanged: false,
    batchStatusUnknown: false,
    changesBase: undefined,
    wrapOpen: false,
    seq: 0,
    cut: undefined,
    leaseWait: undefined,
    copyIn: undefined,
    barrier: undefined,
    held: undefined,
    current: undefined,
    ...io,
  };
}
