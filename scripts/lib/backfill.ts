/**
 * Weeks of past sales for `npm run simulate -- --backfill-days N`, so the
 * dashboard has something to show in `npm run dev`. Shops open 7–21 local time
 * with a lunch and an after-work peak, Saturdays busiest, Sundays quiet; each
 * store sells in its own currency. Baskets come from the bench's generator.
 */
import { apiCall } from "./api.ts";
import type { Terminal } from "./bench/fleet.ts";
import { makeSale, rng, type Sale } from "./bench/receipts.ts";

/** Relative traffic per local hour 0–23 (closed outside 7–21). */
const HOURLY = [0, 0, 0, 0, 0, 0, 0, 2, 4, 5, 5, 6, 9, 8, 5, 5, 6, 9, 9, 6, 4, 2, 0, 0];
/** Sunday … Saturday. */
const WEEKDAY = [0.3, 0.9, 0.95, 1, 1.05, 1.2, 1.4];
const CURRENCY: Record<string, string> = { "Europe/Zurich": "CHF", "Europe/London": "GBP", "Europe/Stockholm": "SEK" };

/** The zone's offset from UTC at `utcMs`, in ms. */
function offsetAt(zone: string, utcMs: number): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(utcMs);
  const n = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  return Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second")) - utcMs;
}

/** The UTC instant of a local wall-clock time in `zone`. */
export function localToUtc(zone: string, y: number, m: number, d: number, minutes: number): number {
  const guess = Date.UTC(y, m, d) + minutes * 60_000;
  return guess - offsetAt(zone, guess - offsetAt(zone, guess));
}

/** The sales of one store over the `days` local days before today, oldest first. */
export function historyOf(zone: string, days: number, perDay: number, seed: number, now = Date.now()): Sale[] {
  const r = rng(seed);
  const currency = CURRENCY[zone] ?? "EUR";
  const weight = HOURLY.reduce((a, b) => a + b, 0);
  const out: Sale[] = [];
  const today = new Date(now + offsetAt(zone, now));
  for (let back = days; back >= 1; back--) {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - back));
    const mean = perDay * (WEEKDAY[day.getUTCDay()] ?? 1) * (0.85 + r() * 0.3);
    for (let h = 0; h < 24; h++) {
      const n = Math.round((mean * (HOURLY[h] ?? 0)) / weight);
      for (let i = 0; i < n; i++) {
        const at = localToUtc(zone, day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), h * 60 + r() * 60);
        out.push({ ...makeSale(r, at), currency });
      }
    }
  }
  return out;
}

/**
 * Sends each store's history through POST /v1/receipts/batch (100 a call,
 * one store at a time per worker), waiting out 429/503 as a terminal would.
 */
export async function backfill(opts: {
  base: string;
  terminals: Terminal[];
  zones: Map<string, string>;
  days: number;
  perDay: number;
  prefix: string;
  say: (line: string) => void;
}): Promise<number> {
  const byStore = new Map<string, Terminal>();
  for (const t of opts.terminals)
    byStore.set(`${t.tenantId}/${t.storeId}`, byStore.get(`${t.tenantId}/${t.storeId}`) ?? t);
  let sent = 0;
  let s = 0;
  for (const [store, t] of byStore) {
    const sales = historyOf(opts.zones.get(store) ?? "UTC", opts.days, opts.perDay, 1000 + s++);
    for (let i = 0; i < sales.length; i += 100) {
      let receipts = sales
        .slice(i, i + 100)
        .map((sale, k) => ({ idempotencyKey: `${opts.prefix}-bf-${s}-${i + k}`, ...sale }));
      while (receipts.length) {
        const res = await apiCall(opts.base, "POST", "/v1/receipts/batch", t.token, { receipts });
        const results = (res.body?.results ?? []) as { status: number }[];
        if (res.status !== 200 && res.status !== 429 && res.status !== 503)
          throw new Error(`backfill: HTTP ${res.status} ${JSON.stringify(res.body)}`);
        // Entries refused for the moment (the store's rate) go again with the same keys.
        const again =
          res.status === 200 ? receipts.filter((_, k) => [429, 503].includes(results[k]?.status ?? 0)) : receipts;
        const bad = results.find((e) => e.status >= 400 && e.status !== 429 && e.status !== 503);
        if (bad) throw new Error(`backfill: an entry got ${JSON.stringify(bad)}`);
        sent += receipts.length - again.length;
        receipts = again;
        if (receipts.length) await new Promise((ok) => setTimeout(ok, 1_000));
      }
    }
    opts.say(`backfilled ${store}: ${sales.length} sales over ${opts.days} days`);
  }
  return sent;
}
