/**
 * GET /ops: the operator's console. A static page (nothing secret in it); the
 * operator types the token, which stays in this tab's session storage, and the
 * page reads /v1/ops/status every 5 s: alerts in plain words first, then
 * Postgres, the breaker, dead letters, partitions and one row per shard. Its
 * one script and stylesheet are inline and allowed by their hashes; it may
 * connect to this origin only.
 */
import { createHash } from "node:crypto";
import { consolePage } from "../http.ts";
import { router } from "../openapi.ts";
import { opsPageRoute } from "./routes.ts";

const CSS = `*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#111827;background:#f3f4f6}
main{max-width:72rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
form{display:flex;gap:.5rem;flex-wrap:wrap;align-items:end;background:#fff;padding:1rem;border-radius:.5rem}
label{display:flex;flex-direction:column;font-weight:600}input{font:inherit;padding:.4rem;border:1px solid #6b7280;border-radius:.3rem;min-width:18rem}
button{font:inherit;padding:.45rem 1rem;border:0;border-radius:.3rem;background:#1d4ed8;color:#fff;cursor:pointer}
#alerts{list-style:none;padding:0;margin:0}#alerts li{padding:.6rem .8rem;margin:.4rem 0;border-radius:.3rem;background:#fee2e2;color:#7f1d1d;border-left:.35rem solid #b91c1c}
#alerts li.ok{background:#dcfce7;color:#14532d;border-left-color:#15803d}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;background:#fff;padding:1rem;border-radius:.5rem;margin:0}dt{font-weight:600}dd{margin:0}
.table{overflow-x:auto;background:#fff;border-radius:.5rem}table{border-collapse:collapse;width:100%}
caption{text-align:left;padding:.5rem 1rem;font-weight:600}th,td{padding:.4rem .8rem;text-align:right;border-top:1px solid #e5e7eb;white-space:nowrap}
th:first-child,td:first-child{text-align:left}.bad{color:#b91c1c;font-weight:700}#state{color:#374151;margin:.5rem 0}`;

const SCRIPT = `(() => {
  const $ = (id) => document.getElementById(id);
  const KEY = "tillproof-operator-token";
  const fmtAge = (ms) => (ms == null ? "–" : ms < 1000 ? "< 1 s" : Math.round(ms / 1000) + " s");
  const cell = (row, text, bad) => { const td = row.insertCell(); td.textContent = text; if (bad) td.className = "bad"; };
  let timer = null;
  async function refresh() {
    const token = sessionStorage.getItem(KEY);
    if (!token) { $("state").textContent = "Enter the operator token to see the service."; return; }
    let res;
    try {
      res = await fetch("/v1/ops/status", { headers: { authorization: "Bearer " + token } });
    } catch (e) { $("state").textContent = "The service did not answer (" + e.message + ")."; return; }
    if (res.status === 401) { $("state").textContent = "That token was refused."; sessionStorage.removeItem(KEY); return; }
    if (!res.ok) { $("state").textContent = "Status failed: HTTP " + res.status; return; }
    const s = await res.json();
    $("state").textContent = "Updated " + new Date(s.at).toLocaleTimeString() + " (every 5 s).";
    const alerts = $("alerts");
    alerts.replaceChildren();
    for (const a of s.alerts.length ? s.alerts : ["All is well."]) {
      const li = document.createElement("li");
      li.textContent = a;
      if (!s.alerts.length) li.className = "ok";
      alerts.append(li);
    }
    $("postgres").textContent = s.postgres === "ok" ? "up" : "DOWN";
    $("postgres").className = s.postgres === "ok" ? "" : "bad";
    $("breaker").textContent = s.breakerOpen ? "open (Postgres calls fail at once)" : "closed";
    $("dead").textContent = s.deadLetters == null ? "unknown" : String(s.deadLetters);
    $("quarantine").textContent = s.quarantine == null ? "unknown" : String(s.quarantine.count);
    $("quarantine").className = s.quarantine && s.quarantine.count ? "bad" : "";
    $("partitions").textContent = s.partitions
      ? s.partitions.futurePartitions + " days ahead, " + s.partitions.defaultRows + " rows in DEFAULT"
      : "unknown (Postgres down)";
    const body = $("shards").tBodies[0];
    body.replaceChildren();
    for (const x of s.shards) {
      const row = body.insertRow();
      cell(row, String(x.shard));
      cell(row, String(x.issued));
      cell(row, String(x.unpersisted), x.unpersisted > 0 && (x.oldestUnpersistedAgeMs || 0) > 60000);
      cell(row, fmtAge(x.oldestUnpersistedAgeMs), (x.oldestUnpersistedAgeMs || 0) > 60000);
      cell(row, (x.codeSpaceUsed * 100).toFixed(4) + " %", x.codeSpaceUsed > 0.5);
      cell(row, fmtAge(x.checkpointAgeMs));
      const w = x.witnessing || { refusals: [], unwitnessedMs: 0 };
      const refused = w.refusals.reduce((n, r) => n + r.count, 0);
      cell(
        row,
        refused ? refused + " refused (" + w.refusals.map((r) => r.witness + " " + r.status).join(", ") + ")"
          : w.unwitnessedMs > 60000 ? "waiting " + fmtAge(w.unwitnessedMs) : "ok",
        refused > 0 || w.unwitnessedMs > 60000,
      );
      cell(row, x.commits.batches ? (x.commits.receipts / x.commits.batches).toFixed(2) : "–");
    }
    const offline = $("offline").tBodies[0];
    offline.replaceChildren();
    for (const x of s.shards) {
      for (const t of (x.offline && x.offline.terminals) || []) {
        const row = offline.insertRow();
        cell(row, t.terminal);
        cell(row, String(x.shard));
        cell(row, String(t.lastSeq));
        cell(row, String(t.gaps), t.gaps > 0);
        cell(row, String(t.late), t.late > 0);
        cell(row, String(t.backlog));
        cell(row, t.backlogSince ? new Date(t.backlogSince).toLocaleString() : "–");
        cell(row, t.overBudget ? "yes" : "no", t.overBudget);
      }
    }
    if (!offline.rows.length) { const row = offline.insertRow(); cell(row, "No terminal has gaps, a backlog or late receipts."); }
    for (const n of s.failedShards) {
      const row = body.insertRow();
      cell(row, String(n)); cell(row, "does not answer", true);
      for (let i = 0; i < 5; i++) cell(row, "–");
    }
  }
  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, $("token").value);
    $("token").value = "";
    refresh();
    clearInterval(timer);
    timer = setInterval(refresh, 5000);
  });
  refresh();
  if (sessionStorage.getItem(KEY)) timer = setInterval(refresh, 5000);
})();`;

const sha256 = (text: string) => createHash("sha256").update(text).digest("base64");

const PAGE = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Tillproof operations</title>
<style>${CSS}</style></head><body><main>
<h1>Tillproof operations</h1>
<form id="login"><label for="token">Operator token<input id="token" type="password" autocomplete="off" required></label>
<button type="submit">Show</button></form>
<p id="state" role="status" aria-live="polite"></p>
<h2>Alerts</h2><ul id="alerts" aria-live="polite"></ul>
<h2>Service</h2><dl><dt>Postgres</dt><dd id="postgres">–</dd><dt>Breaker</dt><dd id="breaker">–</dd>
<dt>Dead letters</dt><dd id="dead">–</dd><dt>Quarantined receipts</dt><dd id="quarantine">–</dd><dt>Partitions</dt><dd id="partitions">–</dd></dl>
<h2>Shards</h2><div class="table"><table id="shards"><caption>Per shard, as the shard itself reports</caption>
<thead><tr><th scope="col">Shard</th><th scope="col">Issued</th><th scope="col">Unpersisted</th><th scope="col">Oldest unpersisted</th>
<th scope="col">Code space used</th><th scope="col">Checkpoint age</th><th scope="col">Witnesses</th><th scope="col">Receipts per commit</th></tr></thead><tbody></tbody></table></div>
<h2>Offline terminals</h2><div class="table"><table id="offline"><caption>Terminals with gaps, a reported backlog or late offline receipts (worst first)</caption>
<thead><tr><th scope="col">Terminal</th><th scope="col">Shard</th><th scope="col">Last seq</th><th scope="col">Gaps</th><th scope="col">Late</th>
<th scope="col">Backlog</th><th scope="col">Backlog since</th><th scope="col">Over budget</th></tr></thead><tbody></tbody></table></div>
<script>${SCRIPT}</script></main></body></html>`;

const SOURCES = [`style-src 'sha256-${sha256(CSS)}'`, `script-src 'sha256-${sha256(SCRIPT)}'`, "connect-src 'self'"];

export const opsConsole = router();

opsConsole.openapi(opsPageRoute, (c) => consolePage(c, PAGE, SOURCES));
