import { randomBytes, randomInt } from "node:crypto";
import { RegateError } from "../errors.js";
import type { CancelTarget } from "./cancel-registry.js";
import type { SessionContext } from "./lifecycle/state.js";
import { authentication, Auth, backendKeyData, parameterStatus, readyForQuery } from "./protocol/index.js";
import { CHOSEN_AT_START_SQL, ReadingSettings } from "./reading-settings.js";
import { SearchPathTracker } from "./search-path.js";
import { simpleQuery } from "./simple-query.js";
import { parseSearchPath } from "./sql/index.js";
import { connectUpstream, type UpstreamConnection } from "./upstream.js";

/** An upstream session regate can decide for, and what it starts with. */
export interface OpenedUpstream {
  upstream: UpstreamConnection;
  user: string;
  reading: ReadingSettings;
  searchPath: SearchPathTracker;
  /** current_user was session_user when the session began (no role default applied at login). */
  startedAsLoginRole: boolean;
}

/**
 * Connects upstream and checks the settings regate's reading of SQL depends on: the parser reads SQL as
 * UTF-8 with standard_conforming_strings on, and a server that disagrees would run other SQL than regate
 * decided on. Then reads where unqualified names resolve and as whom.
 */
export async function openUpstream(ctx: SessionContext, params: Record<string, string>): Promise<OpenedUpstream> {
  const upstream = await connectUpstream(ctx.upstream, params);
  // Before the agent is answered: the keys are in pg_authid, which the agent may read from its first statement.
  ctx.learnSecrets?.(upstream.secretTexts);
  const settings = upstream.params;
  if ((settings.get("client_encoding") ?? "").toUpperCase() !== "UTF8" || settings.get("standard_conforming_strings") !== "on") {
    upstream.socket.destroy();
    throw new RegateError("UPSTREAM_SETTING_REFUSED", "upstream session must run with client_encoding UTF8 and standard_conforming_strings on");
  }
  const [row] = await simpleQuery(upstream.socket, `SELECT current_setting('search_path'), current_user, session_user, ${CHOSEN_AT_START_SQL}`, upstream.leftover);
  // RESET search_path goes back to this value (the session's reset value), not to PostgreSQL's default.
  const start = row?.[0] != null ? parseSearchPath(row[0]) : null;
  return {
    upstream,
    user: row?.[1] ?? ctx.upstream.user,
    searchPath: new SearchPathTracker(start, start),
    startedAsLoginRole: row?.[1] != null && row[1] === row[2],
    reading: new ReadingSettings(settings, new Set(row?.[3]?.split(",") ?? [])),
  };
}

/**
 * What the agent gets in place of the server's startup answer: AuthenticationOk, the server's parameters,
 * regate's own cancel key (never the server's: a CancelRequest comes to regate, which knows which statement
 * it may stop) and ReadyForQuery.
 */
export function greeting(
  ctx: SessionContext,
  upstream: UpstreamConnection,
  onCancel: NonNullable<CancelTarget["onCancel"]>,
): { bytes: Buffer; unregister: (() => void) | undefined } {
  const out: Buffer[] = [authentication(Auth.Ok)];
  for (const [name, value] of upstream.params) out.push(parameterStatus(name, value));
  let unregister: (() => void) | undefined;
  if (upstream.backendKey) {
    const pid = ctx.issuePid?.() ?? randomInt(1, 2 ** 31 - 1);
    const key = randomBytes(4);
    unregister = ctx.registerCancel(pid, key, { ...upstream.backendKey, onCancel });
    out.push(backendKeyData(pid, key));
  }
  out.push(readyForQuery(upstream.txStatus));
  return { bytes: Buffer.concat(out), unregister };
}
