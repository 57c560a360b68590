/**
 * The recordings page: one HTML document whose script lists sessions and shows one session's timeline
 * through the recordings API, with the reader's token kept in sessionStorage (never a cookie). Everything
 * from a recording is written with textContent, so nothing an agent sent is ever parsed as HTML, and is
 * drawn left to right in the order it was sent (right-to-left letters would reorder what sits between them).
 */
export function recordingsPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>regate recordings</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;max-width:90em}
table{border-collapse:collapse} td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
tr.session{cursor:pointer} tr.session:hover{background:#eef}
.deny,.refused{color:#a00} .bad{color:#a00;font-weight:bold} .ok{color:#070}
#timeline td.text{font-family:ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
td{direction:ltr;unicode-bidi:isolate-override}
</style></head>
<body>
<h1>regate recordings</h1>
<form id="login"><label>Responder or reviewer token <input id="token" type="password" autocomplete="off"></label> <button type="submit">Use token</button></form>
<p id="status" role="status"></p>
<h2>Sessions</h2>
<table><thead><tr><th>started</th><th>session</th><th>protocol</th><th>principal</th><th>client</th><th>application</th><th>statements / requests</th><th>refused</th><th>ended</th></tr></thead><tbody id="sessions"></tbody></table>
<h2 id="title">Timeline</h2>
<p id="verify"></p>
<table id="timeline"><tbody id="records"></tbody></table>
<script>
const $ = (id) => document.getElementById(id);
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
$("token").value = sessionStorage.getItem("regate-recordings-token") || "";
$("login").addEventListener("submit", (ev) => { ev.preventDefault(); sessionStorage.setItem("regate-recordings-token", $("token").value); list(); });
async function api(path) {
  const res = await fetch(path, { headers: { authorization: "Bearer " + $("token").value } });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}
async function list() {
  if (!$("token").value) { $("status").textContent = "enter your token"; return; }
  try {
    const { recordings } = await api("/recordings");
    $("status").textContent = recordings.length + " recordings";
    $("sessions").replaceChildren(...recordings.map((r) => {
      const tr = el("tr", undefined, "session"); tr.dataset.session = r.session;
      for (const v of [r.started_at || "", r.session, r.protocol || "postgres", r.principal || "", r.client || "", r.application_name || "", r.statements, r.refused, r.end_reason || "live"]) tr.append(el("td", v));
      if (r.refused > 0) tr.children[7].className = "refused";
      tr.onclick = () => show(r.session);
      return tr;
    }));
  } catch (e) { $("status").textContent = "cannot list recordings: " + e.message; }
}
async function show(session) {
  try {
    const r = await api("/recordings/" + encodeURIComponent(session));
    $("title").textContent = "Timeline of " + session;
    $("verify").className = r.verify.ok ? "ok" : "bad";
    $("verify").textContent = r.verify.ok ? "verifies (hash chain and journal intact)" + (r.verify.open ? "; still open" : "") : "DOES NOT VERIFY: " + r.verify.problems.map((p) => (p.line ? "record " + p.line + ": " : "") + p.message).join("; ");
    $("records").replaceChildren(...r.timeline.map((line, i) => {
      const tr = el("tr"); tr.dataset.type = r.records[i] ? r.records[i].type : "";
      const cls = / (DENY|APPROVE) /.test(line) ? "text deny" : "text";
      tr.append(el("td", line, cls));
      return tr;
    }));
  } catch (e) { $("status").textContent = "cannot read " + session + ": " + e.message; }
}
list();
</script>
</body></html>
`;
}
