import { visible } from "../approval/index.js";
import type { ChainRecord } from "./chain.js";

const oneLine = (s: string, max = 200) => {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/**
 * Characters that would act on a responder's terminal or reorder what they read rather than be shown: C0 and C1
 * controls (ESC starts the sequences that move the cursor, erase lines or set the title; a newline would start
 * a forged timeline line), DEL, line and paragraph separators, bidi embeddings, overrides and isolates.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `s` with every character that is not shown as itself written as a visible `\uXXXX` escape. */
export function printable(s: string): string {
  return s.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Outside C0, which JSON.stringify already escapes (and whose newlines lay out pretty-printed JSON). */
const UNPRINTABLE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text from JSON.stringify, with the characters it leaves raw that a terminal would act on (C1 controls,
 * DEL, line separators, bidi overrides) written as their JSON escapes: the same JSON value, shown safely.
 */
export function printableJson(json: string): string {
  return json.replace(UNPRINTABLE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * `s` as a reader must see it (approval/visible.ts, as reviewers see statements): the timeline folds
 * whitespace into one space, so a carriage return that ends a `--` comment for PostgreSQL would read as a
 * space, and a zero-width or bidi character would vanish or reorder the line. They become ⟨U+XXXX⟩ marks.
 */
export function shownText(s: string): string {
  return visible(s).text;
}

/** Every string of a record, shown as `shownText` shows it; a copy for display, never written or verified. */
function shownRecord(r: ChainRecord): ChainRecord {
  return JSON.parse(JSON.stringify(r), (_k, v: unknown) => (typeof v === "string" ? shownText(v) : v)) as ChainRecord;
}

/**
 * A session as a psql-like timeline: one line per record, time first, on the CLI and the recordings page
 * alike. Every field comes from what an agent sent (SQL, application_name, paths, reasons): each string is
 * marked as `shownText` marks it, then each line goes through `printable`, so a timeline printed to a
 * terminal shows an escape sequence, it does not run it. `records` themselves are left as they are.
 */
export function formatTimeline(records: readonly ChainRecord[]): string {
  const out: string[] = [];
  for (const r of records.map(shownRecord)) {
    const t = r.ts;
    switch (r.type) {
      case "start": {
        const p = r["principal"] as { subject?: string } | undefined;
        const c = r["client"] as { address?: string; port?: number } | undefined;
        out.push(`${t}  START  session ${String(r["session"])}  principal ${p?.subject ?? "?"}  client ${c?.address ?? "?"}:${c?.port ?? "?"}  target ${String(r["target"] ?? "")}${r["application_name"] ? `  application ${String(r["application_name"])}` : ""}  regate ${String(r["regate_version"] ?? "")}  bundle ${String(r["bundle_revision"] ?? "")}`);
        break;
      }
      case "statement": {
        const d = r["decision"] as { outcome?: string; decision_id?: string; reasons?: string[]; error_code?: string } | undefined;
        const params = r["parameters"] as { value: unknown }[] | undefined;
        const p = params?.length ? `  params ${JSON.stringify(params.map((x) => x.value))}` : "";
        const why = d?.outcome !== "allow" && d?.reasons?.length ? `  (${d.error_code ? `${d.error_code}: ` : ""}${oneLine(d.reasons.join("; "), 120)})` : "";
        out.push(`${t}  #${String(r["stmt"])}  ${(d?.outcome ?? "?").toUpperCase()}  ${oneLine(String(r["sql"] ?? ""))}${p}${why}  [decision ${d?.decision_id ?? "?"}]`);
        break;
      }
      case "result": {
        const tags = (r["command_tags"] as string[] | undefined) ?? [];
        const extra = [
          r["sqlstate"] ? `SQLSTATE ${String(r["sqlstate"])}` : "",
          Number(r["masked_values"]) ? `${String(r["masked_values"])} masked` : "",
          r["budget_cut"] ? `budget cut: ${String(r["budget_cut"])}` : "",
          r["session_ended"] ? `UNFINISHED: the session ended (${oneLine(String(r["session_ended"]), 20)}) before its replies were over` : "",
        ].filter(Boolean);
        out.push(`${t}  #${String(r["stmt"])}  -> ${tags.join(", ") || "(no tag)"}  ${String(r["rows"])} rows  ${String(r["bytes"])} bytes  ${Number(r["duration_ms"]).toFixed(1)} ms${extra.length ? `  ${extra.join("  ")}` : ""}`);
        break;
      }
      case "request": {
        const q = (r["request"] ?? {}) as { method?: string; path?: string; route?: string; body?: unknown; mcp?: { method?: string; tool?: string } };
        const d = r["decision"] as { outcome?: string; decision_id?: string; reasons?: string[]; error_code?: string } | undefined;
        const mcp = q.mcp?.method ? `  mcp ${q.mcp.method}${q.mcp.tool ? ` ${q.mcp.tool}` : ""}` : "";
        const body = q.body !== undefined ? `  body ${oneLine(JSON.stringify(q.body), 120)}` : "";
        const why = d?.outcome !== "allow" && d?.reasons?.length ? `  (${d.error_code ? `${d.error_code}: ` : ""}${oneLine(d.reasons.join("; "), 120)})` : "";
        out.push(`${t}  ${(d?.outcome ?? "?").toUpperCase()}  ${q.method ?? "?"} ${q.route ? `[${q.route}] ` : ""}${q.path ?? ""}${mcp}${body}${why}  [decision ${d?.decision_id ?? "?"}]`);
        break;
      }
      case "response":
        out.push(`${t}  -> ${r["status"] ? `HTTP ${String(r["status"])}` : "no response (client went away)"}  ${Number(r["duration_ms"]).toFixed(1)} ms${r["bytes"] !== undefined ? `  ${String(r["bytes"])} bytes` : ""}${r["masked"] ? "  masked" : ""}${r["error_code"] ? `  ${String(r["error_code"])}` : ""}${r["aborted"] && r["status"] ? "  CUT: the response ended before its end" : ""}${r["lock_id"] ? `  lock ${oneLine(String(r["lock_id"]), 40)}` : ""}  [decision ${String(r["decision_id"] ?? "?")}]`);
        break;
      case "cancel":
        out.push(`${t}  ${r["stmt"] !== undefined ? `#${String(r["stmt"])}  ` : ""}CANCEL requested by the client${r["decision_id"] ? `  [decision ${String(r["decision_id"])}]` : ""}`);
        break;
      case "approval":
      case "budget_cut":
      case "session_killed":
      case "session_locked": {
        const who = r["actor"] ? `  by ${String(r["actor"])}` : "";
        const why = r["reason"] ? `  (${oneLine(String(r["reason"]), 120)})` : "";
        const what = String(r["kind"] ?? r.type).replace(/_/g, " ").toUpperCase();
        out.push(`${t}  ${what}${who}${why}${r["decision_id"] ? `  [decision ${String(r["decision_id"])}]` : ""}${r["lock_id"] ? `  [lock ${String(r["lock_id"])}]` : ""}`);
        break;
      }
      case "end":
        if (r["requests"] !== undefined) out.push(`${t}  END  reason ${String(r["reason"])}  ${String(r["requests"])} requests  ${String(r["refused"])} refused${r["bytes"] !== undefined ? `  ${String(r["bytes"])} bytes` : ""}`);
        else out.push(`${t}  END  reason ${String(r["reason"])}  ${String(r["statements"])} statements  ${String(r["rows"])} rows  ${String(r["bytes"])} bytes`);
        break;
      default:
        out.push(`${t}  ${r.type.toUpperCase()}  ${oneLine(JSON.stringify(r))}`);
    }
  }
  return out.map(printable).join("\n") + (out.length ? "\n" : "");
}
