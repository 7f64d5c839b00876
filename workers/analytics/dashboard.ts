/**
 * GET /dashboard: a tenant's sales dashboard. A static page (nothing secret in
 * it): the tenant types its id and key, kept in this tab's session storage,
 * and public/dashboard.js reads the analytics API and draws with Chart.js, both
 * served as static assets from this origin. Its stylesheet is inline and
 * allowed by its hash; scripts only from this origin, no inline script.
 */
import { createHash } from "node:crypto";
import { consolePage } from "../http.ts";
import { router } from "../openapi.ts";
import { dashboardPageRoute } from "./routes.ts";

const CSS = `*{box-sizing:border-box}[hidden]{display:none!important}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#111827;background:#f3f4f6}
main{max-width:76rem;margin:0 auto;padding:1rem}h1{font-size:1.5rem;margin:.25rem 0 1rem}h2{font-size:1.1rem;margin:0 0 .5rem}
form,section,.card{background:#fff;border-radius:.5rem;padding:1rem;margin:0 0 1rem}
form{display:flex;gap:.75rem;flex-wrap:wrap;align-items:end}
label{display:flex;flex-direction:column;font-weight:600;font-size:.95rem}
input,select{font:inherit;padding:.4rem;border:1px solid #6b7280;border-radius:.3rem;background:#fff;color:#111827;max-width:100%}
button{font:inherit;padding:.45rem 1rem;border:0;border-radius:.3rem;background:#1d4ed8;color:#fff;cursor:pointer}
button.quiet{background:#e5e7eb;color:#111827}button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
#state{color:#374151;margin:.25rem 0 1rem}.who{color:#374151;margin:0 0 1rem}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:1rem;margin:0 0 1rem}
.kpis div{background:#fff;border-radius:.5rem;padding:.75rem 1rem}.kpis dt{color:#374151;font-size:.9rem}.kpis dd{margin:0;font-size:1.4rem;font-weight:700}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,30rem),1fr));gap:1rem}
.grid section{margin:0;min-width:0}.chart{position:relative;height:16rem}
details{margin-top:.5rem}summary{cursor:pointer;color:#1d4ed8;font-weight:600}
.table{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{padding:.3rem .6rem;text-align:right;border-top:1px solid #e5e7eb;white-space:nowrap}
th:first-child,td:first-child{text-align:left}thead th{border-top:0}
.card form{padding:0;margin:0}#charts{margin-bottom:1rem}`;

const PAGE = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sales dashboard · Tillproof</title><link rel="icon" href="data:,">
<style>${CSS}</style></head><body><main>
<h1>Sales dashboard</h1>
<form id="login"><label for="tenant">Tenant id<input id="tenant" autocomplete="username" required></label>
<label for="key">Tenant key<input id="key" type="password" autocomplete="current-password" required></label>
<button type="submit">Show my sales</button></form>
<p id="state" role="status" aria-live="polite"></p>
<div id="dashboard" hidden>
<p class="who">Tenant <strong id="who"></strong> <button type="button" class="quiet" id="signout">Sign out</button></p>
<form id="filters" aria-label="Filters">
<label for="from">From<input id="from" type="date" required></label>
<label for="to">To<input id="to" type="date" required></label>
<label for="store">Store<select id="store"><option value="">All stores</option></select></label>
<button type="submit">Apply</button>
<label for="currency">Currency<select id="currency"></select></label>
</form>
<p id="empty" hidden>No sales in this range.</p>
<div id="charts">
<dl class="kpis"><div><dt>Receipts</dt><dd id="kpi-receipts">–</dd></div><div><dt>Gross sales</dt><dd id="kpi-gross">–</dd></div>
<div><dt>Refunds</dt><dd id="kpi-refunds">–</dd></div><div><dt>Net sales</dt><dd id="kpi-net">–</dd></div>
<div><dt>Average basket</dt><dd id="kpi-basket">–</dd></div></dl>
<div class="grid">
<section aria-labelledby="time-h"><h2 id="time-h">Sales over time</h2><div class="chart"><canvas id="time-chart" role="img"></canvas></div>
<details><summary>The numbers</summary><div class="table"><table id="time-table"><caption hidden>Sales per day</caption><thead><tr></tr></thead><tbody></tbody></table></div></details></section>
<section aria-labelledby="stores-h"><h2 id="stores-h">Stores side by side</h2><div class="chart"><canvas id="stores-chart" role="img"></canvas></div>
<details><summary>The numbers</summary><div class="table"><table id="stores-table"><caption hidden>Sales per store</caption><thead><tr></tr></thead><tbody></tbody></table></div></details></section>
<section aria-labelledby="payments-h"><h2 id="payments-h">Payment mix</h2><div class="chart"><canvas id="payments-chart" role="img"></canvas></div>
<details><summary>The numbers</summary><div class="table"><table id="payments-table"><caption hidden>Payments by method</caption><thead><tr></tr></thead><tbody></tbody></table></div></details></section>
<section aria-labelledby="items-h"><h2 id="items-h">Top items</h2><div class="chart"><canvas id="items-chart" role="img"></canvas></div>
<details><summary>The numbers</summary><div class="table"><table id="items-table"><caption hidden>Top items by revenue</caption><thead><tr></tr></thead><tbody></tbody></table></div></details></section>
</div></div>
<section aria-labelledby="csv-h" class="card"><h2 id="csv-h">Daily tax summary for bookkeeping</h2>
<form id="csv-form"><label for="csv-date">Day<input id="csv-date" type="date" required></label>
<button type="submit" id="csv">Download CSV</button></form></section>
</div>
<script src="/vendor/chart.umd.min.js"></script><script src="/dashboard.js"></script>
</main></body></html>`;

const sha256 = (text: string) => createHash("sha256").update(text).digest("base64");

const SOURCES = [
  `style-src 'sha256-${sha256(CSS)}'`,
  "script-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
];

export const dashboard = router();

dashboard.openapi(dashboardPageRoute, (c) => consolePage(c, PAGE, SOURCES));
