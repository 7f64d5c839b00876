// The tenant's sales dashboard (GET /dashboard). The tenant id and key stay in
// this tab's session storage; everything is read from the analytics API of this
// origin and drawn with Chart.js (public/vendor). Every chart has its numbers
// in a table beside it.

(() => {
  const $ = (id) => document.getElementById(id);
  const KEY = "tillproof-dashboard";
  const COLORS = ["#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#a21caf"];
  const PAYMENTS = [
    ["cash", "Cash"],
    ["card", "Card"],
    ["other", "Other"],
  ];
  const charts = new Map();
  const seenStores = new Set();
  let data = null;

  const creds = () => {
    try {
      return JSON.parse(sessionStorage.getItem(KEY) || "null");
    } catch {
      return null;
    }
  };
  const say = (text) => {
    $("state").textContent = text;
  };
  const isoDay = (d) =>
    `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  const addDays = (day, n) => {
    const d = new Date(`${day}T12:00:00`);
    d.setDate(d.getDate() + n);
    return isoDay(d);
  };
  const digits = (currency) =>
    new Intl.NumberFormat(undefined, { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  const major = (minor, currency) => minor / 10 ** digits(currency);
  const money = (minor, currency) =>
    new Intl.NumberFormat(undefined, { style: "currency", currency }).format(major(minor, currency));
  const count = (n) => new Intl.NumberFormat().format(n);

  async function api(path) {
    const c = creds();
    const res = await fetch(path, { headers: { authorization: `Bearer ${c.key}` } });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      const err = new Error(body?.error?.message || `HTTP ${res.status}`);
      err.status = res.status;
      throw err;
    }
    return res;
  }

  function table(id, headers, rows) {
    const t = $(id);
    const head = t.tHead.rows[0];
    head.replaceChildren();
    for (const h of headers) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      head.append(th);
    }
    const body = t.tBodies[0];
    body.replaceChildren();
    for (const r of rows) {
      const tr = body.insertRow();
      r.forEach((v, i) => {
        const cell = i === 0 ? document.createElement("th") : document.createElement("td");
        if (i === 0) cell.scope = "row";
        cell.textContent = v;
        tr.append(cell);
      });
    }
  }

  function chart(id, type, labels, values, currency, label) {
    charts.get(id)?.destroy();
    const canvas = $(id);
    canvas.setAttribute("aria-label", `${label}: ${labels.length ? "see the table below" : "no sales"}`);
    const many = type === "doughnut";
    charts.set(
      id,
      new window.Chart(canvas, {
        type,
        data: {
          labels,
          datasets: [
            {
              label,
              data: values.map((v) => major(v, currency)),
              backgroundColor: many ? COLORS : COLORS[0],
              borderColor: many ? "#fff" : COLORS[0],
            },
          ],
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          indexAxis: id === "items-chart" ? "y" : "x",
          plugins: {
            legend: { display: many, position: "bottom" },
            tooltip: { callbacks: { label: (ctx) => money(Math.round(ctx.raw * 10 ** digits(currency)), currency) } },
          },
        },
      }),
    );
  }

  function render() {
    if (!data) return;
    const currency = $("currency").value;
    const series = data.series.filter((s) => s.currency === currency);
    const from = $("from").value;
    const to = $("to").value;
    // Sales over time: every day of the range, with zeros, all stores (or the chosen one) together.
    const byDay = new Map();
    for (let d = from; d <= to; d = addDays(d, 1)) byDay.set(d, { gross: 0, receipts: 0, refunded: 0 });
    const byStore = new Map();
    const pay = { cash: 0, card: 0, other: 0 };
    let receipts = 0;
    let gross = 0;
    let refunded = 0;
    for (const s of series) {
      // Refunds are booked on the refund's own store and day (v1.2); net = gross − refunded.
      const day = byDay.get(s.start);
      if (day) {
        day.gross += s.gross;
        day.receipts += s.receipts;
        day.refunded += s.refunded ?? 0;
      }
      const st = byStore.get(s.storeId) ?? { gross: 0, receipts: 0, refunded: 0 };
      st.gross += s.gross;
      st.receipts += s.receipts;
      st.refunded += s.refunded ?? 0;
      byStore.set(s.storeId, st);
      for (const [k] of PAYMENTS) pay[k] += s.byPayment[k];
      receipts += s.receipts;
      gross += s.gross;
      refunded += s.refunded ?? 0;
    }
    $("kpi-receipts").textContent = count(receipts);
    $("kpi-gross").textContent = money(gross, currency);
    $("kpi-refunds").textContent = money(refunded, currency);
    $("kpi-net").textContent = money(gross - refunded, currency);
    $("kpi-basket").textContent = receipts ? money(Math.round(gross / receipts), currency) : "–";

    /** A bar chart of gross per key, and the same numbers as a table. */
    const grossBy = (id, heading, per, keys, totals) => {
      chart(
        `${id}-chart`,
        "bar",
        keys,
        keys.map((k) => totals.get(k).gross),
        currency,
        `Gross sales per ${per} in ${currency}`,
      );
      table(
        `${id}-table`,
        [heading, "Receipts", `Gross (${currency})`, `Refunds (${currency})`, `Net (${currency})`],
        keys.map((k) => {
          const t = totals.get(k);
          return [
            k,
            count(t.receipts),
            money(t.gross, currency),
            money(t.refunded, currency),
            money(t.gross - t.refunded, currency),
          ];
        }),
      );
    };
    grossBy("time", "Day", "day", [...byDay.keys()], byDay);
    grossBy("stores", "Store", "store", [...byStore.keys()].sort(), byStore);

    chart(
      "payments-chart",
      "doughnut",
      PAYMENTS.map(([, l]) => l),
      PAYMENTS.map(([k]) => pay[k]),
      currency,
      `Payment mix in ${currency}`,
    );
    table(
      "payments-table",
      ["Method", `Amount (${currency})`, "Share"],
      PAYMENTS.map(([k, l]) => [l, money(pay[k], currency), gross ? `${((pay[k] / gross) * 100).toFixed(1)} %` : "–"]),
    );

    const items = data.items.filter((i) => i.currency === currency).slice(0, 10);
    chart(
      "items-chart",
      "bar",
      items.map((i) => i.name),
      items.map((i) => i.revenue),
      currency,
      `Top items by revenue in ${currency}`,
    );
    table(
      "items-table",
      ["Item", "SKU", "Quantity", "Receipts", `Revenue (${currency})`],
      items.map((i) => [i.name, i.sku ?? "–", count(i.quantity), count(i.receipts), money(i.revenue, currency)]),
    );
  }

  async function load() {
    const c = creds();
    $("login").hidden = Boolean(c);
    if (!c) {
      $("dashboard").hidden = true;
      say("Enter your tenant id and key to see your sales.");
      return;
    }
    $("dashboard").hidden = false;
    $("who").textContent = c.tenantId;
    const from = $("from").value;
    const to = $("to").value;
    const store = $("store").value;
    const q = `from=${from}&to=${to}${store ? `&storeId=${encodeURIComponent(store)}` : ""}`;
    const base = `/v1/tenants/${encodeURIComponent(c.tenantId)}`;
    say("Loading…");
    try {
      const [sales, items] = await Promise.all([
        api(`${base}/analytics/sales?${q}&granularity=day`).then((r) => r.json()),
        api(`${base}/analytics/items?${q}&limit=100`).then((r) => r.json()),
      ]);
      data = { series: sales.series, items: items.items };
    } catch (e) {
      if (e.status === 401 || e.status === 403) {
        sessionStorage.removeItem(KEY);
        $("dashboard").hidden = true;
        $("login").hidden = false;
      }
      say(`Could not load your sales: ${e.message}`);
      return;
    }
    for (const s of data.series) seenStores.add(s.storeId);
    const storeSelect = $("store");
    const chosen = storeSelect.value;
    storeSelect.replaceChildren(new Option("All stores", ""), ...[...seenStores].sort().map((s) => new Option(s, s)));
    storeSelect.value = chosen;
    // Currencies by gross, largest first; keep the one chosen if it is still there.
    const totals = new Map();
    for (const s of data.series) totals.set(s.currency, (totals.get(s.currency) ?? 0) + s.gross);
    const currencies = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a));
    const cur = $("currency");
    const was = cur.value;
    cur.replaceChildren(...currencies.map((x) => new Option(x, x)));
    if (currencies.includes(was)) cur.value = was;
    $("empty").hidden = currencies.length > 0;
    $("charts").hidden = currencies.length === 0;
    render();
    say(`Sales from ${from} to ${to}${store ? ` in store ${store}` : ""}, by the stores' local days.`);
  }

  async function download() {
    const c = creds();
    const date = $("csv-date").value;
    const store = $("store").value;
    try {
      const res = await api(
        `/v1/tenants/${encodeURIComponent(c.tenantId)}/exports/daily.csv?date=${date}${store ? `&storeId=${encodeURIComponent(store)}` : ""}`,
      );
      const name =
        /filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "")?.[1] || `tillproof-${date}.csv`;
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement("a");
      a.href = url;
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      say(`Downloaded ${name}.`);
    } catch (e) {
      say(`Could not download the CSV: ${e.message}`);
    }
  }

  const today = isoDay(new Date());
  $("to").value = today;
  $("from").value = addDays(today, -27);
  $("csv-date").value = addDays(today, -1);
  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, JSON.stringify({ tenantId: $("tenant").value.trim(), key: $("key").value.trim() }));
    $("key").value = "";
    load();
  });
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });
  $("currency").addEventListener("change", render);
  $("csv-form").addEventListener("submit", (e) => {
    e.preventDefault();
    download();
  });
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    data = null;
    load();
  });
  load();
})();
