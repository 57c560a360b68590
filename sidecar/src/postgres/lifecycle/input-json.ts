import type { PolicyInput, SessionInput, TimeInput } from "../../decision/index.js";
import type { AnalysisResult, StatementFacts } from "../sql/types.js";
import { ServedAnalysis, type SharedFacts } from "./analyse.js";

/**
 * Every decision serialises its input once, for the policy and the decision log. Most of a Postgres input
 * repeats from one statement to the next: the session, the statements' facts (the same analysis object
 * while the text repeats, the same template's facts while only constants change) and the clock within a
 * millisecond. Those parts are serialised once and joined; the rest goes through JSON.stringify. The parts
 * are keyed by object identity, so they must not change once serialised: CHECK_REGATE_INPUT_JSON=1 (the test
 * suite sets it) compares every result with JSON.stringify(input) and throws on any difference.
 */
const sessions = new WeakMap<SessionInput, string>();
const analyses = new WeakMap<readonly StatementFacts[], string>();
/** A template's facts as JSON without the closing brace: a statement served from it adds its own `sql`. */
const templates = new WeakMap<SharedFacts, string>();
let clock: { now_ns: number; json: string } | undefined;

const CHECK = process.env["CHECK_REGATE_INPUT_JSON"] === "1";

/** JSON.stringify(input), byte for byte, for an input built by postgresInput from `analysis`. */
export function postgresInputJson(input: PolicyInput, analysis: AnalysisResult | undefined): string {
  let out = "{";
  let sep = "";
  for (const key in input) {
    const value = (input as unknown as Record<string, unknown>)[key];
    if (value === undefined) continue;
    out += `${sep}"${key}":`;
    sep = ",";
    if (key === "session") out += sessionJson(value as SessionInput);
    else if (key === "time") out += timeJson(value as TimeInput);
    else if (key === "postgres") out += postgresJson(value as Record<string, unknown>, analysis);
    else if (key === "version" && typeof value === "number" && Number.isInteger(value)) out += String(value);
    else if (key === "kind" && typeof value === "string") out += wordJson(value);
    else out += JSON.stringify(value);
  }
  out += "}";
  if (CHECK && out !== JSON.stringify(input)) throw new Error(`postgresInputJson differs from JSON.stringify(input):\n${out}\n${JSON.stringify(input)}`);
  return out;
}

function postgresJson(pg: Record<string, unknown>, analysis: AnalysisResult | undefined): string {
  let out = "{";
  let sep = "";
  for (const key in pg) {
    const value = pg[key];
    if (value === undefined) continue;
    let json: string;
    if (key === "statements") json = statementsJson(value as readonly StatementFacts[], analysis);
    else if (key === "search_path" && Array.isArray(value)) json = searchPathJson(value as string[]);
    else if (typeof value === "string" && (key === "message" || key === "transaction_status")) json = wordJson(value);
    else json = JSON.stringify(value);
    out += `${sep}"${key}":${json}`;
    sep = ",";
  }
  return `${out}}`;
}

/** The session's search_path: the tracker hands out the same array until the path changes, and never changes one. */
const searchPaths = new WeakMap<readonly string[], string>();

function searchPathJson(path: readonly string[]): string {
  let json = searchPaths.get(path);
  if (json === undefined) searchPaths.set(path, (json = JSON.stringify(path)));
  return json;
}

/** The few words every input repeats (message kinds, transaction statuses). */
const words = new Map<string, string>();

function wordJson(word: string): string {
  let json = words.get(word);
  if (json === undefined) {
    json = JSON.stringify(word);
    if (words.size < 32) words.set(word, json);
  }
  return json;
}

function statementsJson(statements: readonly StatementFacts[], analysis: AnalysisResult | undefined): string {
  // A statement served from a template keeps its JSON itself: it is new per statement (analyse.ts).
  const served = analysis instanceof ServedAnalysis && analysis.statements === statements ? analysis : undefined;
  let json = served ? served.statementsJson() : analyses.get(statements);
  if (json !== undefined) return json;
  const shared = served && statements.length === 1 ? served.template() : undefined;
  if (shared?.statements.length === 1) {
    let head = templates.get(shared);
    if (head === undefined) templates.set(shared, (head = JSON.stringify(shared.statements[0]).slice(0, -1)));
    // served() in analyse.ts puts `sql` after the template's facts.
    json = `[${head},"sql":${JSON.stringify(statements[0]!.sql)}}]`;
  } else json = JSON.stringify(statements);
  if (served) served.keepStatementsJson(json);
  else analyses.set(statements, json);
  return json;
}

function sessionJson(session: SessionInput): string {
  let json = sessions.get(session);
  if (json === undefined) sessions.set(session, (json = JSON.stringify(session)));
  return json;
}

function timeJson(time: TimeInput): string {
  if (clock?.now_ns !== time.now_ns) clock = { now_ns: time.now_ns, json: JSON.stringify(time) };
  return clock.json;
}
