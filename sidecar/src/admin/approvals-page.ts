/**
 * The reviewer's page: one server-rendered HTML document whose small script calls the approvals API
 * with the reviewer's token (kept in sessionStorage, never in a cookie). Values are written with
 * textContent only, so nothing from a statement is ever parsed as HTML; the statement and parameters are
 * the review view (approval/review-view.ts: invisible characters marked, cuts said) with its notes shown
 * above them. Cards keep their places while the page is open, and a new card's buttons wait a moment.
 * What an agent wrote is drawn left to right in the order it runs (bidi override): a Hebrew or Arabic
 * letter would otherwise make the browser draw the numbers and punctuation between two of them reversed,
 * so `{א, 5, 900000, ב}` read `{ב, 900000, 5, א}`.
 */
export function approvalsPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>regate approvals</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}
.card{border:1px solid #bbb;border-radius:6px;padding:1em;margin:1em 0}
pre{background:#f4f4f4;padding:.6em;white-space:pre-wrap;word-break:break-all}
pre,.notes{direction:ltr;unicode-bidi:isolate-override}
.meta{color:#555} .warn{color:#a00;font-weight:bold} .notes{color:#a00} .ended{opacity:.5} table{border-collapse:collapse} td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}
</style></head>
<body>
<h1>regate approvals</h1>
<form id="login"><label>Reviewer token <input id="token" type="password" autocomplete="off"></label> <button type="submit">Use token</button></form>
<p id="status" role="status"></p>
<h2>Pending</h2><div id="pending"></div>
<h2>History</h2><table><thead><tr><th>id</th><th>status</th><th>principal</th><th>reviewer</th><th>comment</th><th>decided</th></tr></thead><tbody id="history"></tbody></table>
<script>
const ARM_MS = 1500;
const $ = (id) => document.getElementById(id);
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
$("token").value = sessionStorage.getItem("regate-reviewer-token") || "";
$("login").addEventListener("submit", (ev) => { ev.preventDefault(); sessionStorage.setItem("regate-reviewer-token", $("token").value); shownFor = ""; load(); });
async function api(path, body) {
  const res = await fetch(path, { method: body ? "POST" : "GET", headers: { authorization: "Bearer " + $("token").value, ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}
async function act(a, action, comment) {
  try {
    const r = await api("/approvals/" + encodeURIComponent(a.id) + "/" + action, action === "approve" ? { sha256: a.sha256, comment } : { comment });
    $("status").textContent = r.id + " " + r.status;
  } catch (e) { $("status").textContent = action + " failed: " + e.message; }
  load();
}
function parameterLines(a) {
  return a.statement.parameters.map((p, i) => a.kind === "http" ? "body: " + p : "$" + (i + 1) + " = " + (p && typeof p === "object" ? (p.value === null ? "NULL" : p.value) + " (" + p.format + (p.type_oid ? ", type " + p.type_oid : "") + (p.encoding ? ", " + p.encoding : "") + ")" : String(p))).join("\\n");
}
function card(a) {
  const c = el("div", undefined, "card"); c.dataset.id = a.id;
  c.append(el("h3", a.id + " — " + a.reason));
  c.append(el("p", "asked by " + a.principal + " on " + a.target + " (session " + a.session_id + "), approvers: " + a.approvers + ", expires " + a.expires_at + (a.in_transaction ? ", inside a transaction block" : ""), "meta"));
  if (a.statement.notes && a.statement.notes.length) {
    const ul = el("ul", undefined, "notes");
    for (const n of a.statement.notes) ul.append(el("li", n));
    c.append(el("p", "Read before approving: what runs is not exactly what the text below looks like at first sight.", "warn"), ul);
  }
  c.append(el("pre", a.statement.sql, "sql"));
  if (a.statement.parameters && a.statement.parameters.length) c.append(el("pre", parameterLines(a), "params"));
  c.append(el("p", votes(a), "meta votes"));
  c.append(el("p", "sha256 " + a.sha256, "meta"));
  const comment = el("input"); comment.placeholder = "comment (required to refuse)"; comment.className = "comment"; comment.size = 50;
  const ok = el("button", "Approve", "approve"); ok.type = "button"; ok.onclick = () => act(a, "approve", comment.value);
  const no = el("button", "Refuse", "refuse"); no.type = "button"; no.onclick = () => act(a, "refuse", comment.value);
  // A card that has just appeared may sit where the reviewer was about to click: its buttons wait.
  ok.disabled = no.disabled = true;
  setTimeout(() => { if (!c.classList.contains("ended")) ok.disabled = no.disabled = false; }, ARM_MS);
  c.append(comment, " ", ok, " ", no);
  return c;
}
function votes(a) {
  return (a.kind || "postgres") + ", " + (a.mode || "hold") + " mode; approvals " + (a.votes ? a.votes.length : 0) + " of " + (a.min || 1) + (a.votes && a.votes.length ? " (" + a.votes.map((v) => v.reviewer).join(", ") + ")" : "") + (a.reason_required ? "; a comment is required to approve" : "");
}
// Cards never move while the page is open: a new approval is added after the others and one that ended
// stays where it was, greyed, until the reviewer reloads. Otherwise an agent could time a new or withdrawn
// request so that another card slides under the reviewer's pointer just before the click.
function ended(c, a) {
  if (c.classList.contains("ended")) return;
  c.classList.add("ended");
  for (const b of c.querySelectorAll("button")) b.disabled = true;
  c.querySelector("p.votes").textContent = "no longer pending: " + (a ? a.status + (a.reviewer ? " by " + a.reviewer : "") : "gone") + " (reload to clear)";
}
let shownFor = "";
async function load() {
  if (!$("token").value) { $("status").textContent = "enter your reviewer token"; return; }
  try {
    const { approvals } = await api("/approvals");
    const pending = approvals.filter((a) => a.status === "pending").reverse();
    const byId = new Map(approvals.map((a) => [a.id, a]));
    if (shownFor !== $("token").value) { $("pending").replaceChildren(); shownFor = $("token").value; }
    const cards = new Map([...$("pending").querySelectorAll(".card")].map((c) => [c.dataset.id, c]));
    for (const [id, c] of cards) {
      const a = byId.get(id);
      if (!a || a.status !== "pending") ended(c, a);
      else c.querySelector("p.votes").textContent = votes(a);
    }
    const empty = $("pending").querySelector("p.empty");
    for (const a of pending) if (!cards.has(a.id)) { if (empty) empty.remove(); $("pending").append(card(a)); }
    if (!$("pending").children.length) $("pending").append(el("p", "nothing pending", "empty"));
    $("history").replaceChildren(...approvals.filter((a) => a.status !== "pending").map((a) => { const tr = el("tr"); for (const v of [a.id, a.status, a.principal, a.reviewer || "", a.comment || "", a.decided_at || ""]) tr.append(el("td", v)); return tr; }));
  } catch (e) { $("status").textContent = "cannot list approvals: " + e.message; }
}
load();
setInterval(() => { if (!document.activeElement || document.activeElement.className !== "comment") load(); }, 3000);
</script>
</body></html>
`;
}
