/**
 * The tenant's dashboard at /dashboard in Chromium, on a laptop and on a
 * phone: it logs in with the tenant's id and key, draws its charts from the
 * analytics API, shows the same numbers in its tables, switches currency, and
 * downloads the day's tax CSV. Screenshots go to test-artifacts/.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callStack, OPERATOR_TOKEN, type Stack, startStack } from "../../scripts/lib/stack/local.ts";
import { ARTIFACTS, launchChromium } from "./chromium.ts";

let stack: Stack | undefined;
let browser: Browser | undefined;
let tenant: { id: string; key: string };

function api(method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) {
  if (!stack) throw new Error("stack not started");
  return callStack(stack, method, path, token, body, headers);
}

const DAY = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** A sale `daysAgo` days ago at noon UTC. */
function sale(daysAgo: number, currency: string, n: number) {
  const price = 150 + n * 10;
  const items = [
    {
      name: n % 2 ? "Flat white" : "Espresso",
      sku: n % 2 ? "CAF-014" : "CAF-001",
      quantity: 1,
      unitPrice: price,
      taxRate: 19,
      total: price,
    },
    { name: "Brötchen", quantity: 2, unitPrice: 45, taxRate: 7, total: 90 },
  ];
  const total = price + 90;
  return {
    issuedAt: new Date(Date.now() - daysAgo * DAY - (Date.now() % DAY) + 12 * 3_600_000).toISOString(),
    currency,
    items,
    total,
    payments: n % 3 ? [{ method: "card", amount: total }] : [{ method: "cash", amount: total }],
  };
}

beforeAll(async () => {
  browser = await launchChromium();
  stack = await startStack();
  const id = `dash-${crypto.randomUUID().slice(0, 8)}`;
  const t = await api("POST", "/v1/tenants", OPERATOR_TOKEN, { id, name: "Café Lindner" });
  tenant = { id, key: t.body.apiKey ?? "" };
  let issued = 0;
  for (const [store, zone] of [
    ["mitte", "Europe/Berlin"],
    ["zurich", "Europe/Zurich"],
  ] as const) {
    await api("PUT", `/v1/tenants/${id}/stores/${store}`, tenant.key, { name: store, timezone: zone });
    const r = await api("POST", `/v1/tenants/${id}/stores/${store}/terminals`, tenant.key, { id: "till-1" });
    for (let n = 0; n < 12; n++) {
      const currency = store === "zurich" && n % 4 === 0 ? "CHF" : "EUR";
      const res = await api("POST", "/v1/receipts", r.body.token ?? "", sale(1 + (n % 6), currency, n), {
        "idempotency-key": `${store}-${n}`,
      });
      expect(res.status).toBe(201);
      issued++;
    }
  }
  // Wait until analytics has every receipt.
  const from = isoDay(Date.now() - 27 * DAY);
  const to = isoDay(Date.now());
  for (let i = 0; ; i++) {
    const s = await api("GET", `/v1/tenants/${id}/analytics/sales?from=${from}&to=${to}`, tenant.key);
    const n = (JSON.parse(s.text) as { series: { receipts: number }[] }).series.reduce((a, b) => a + b.receipts, 0);
    if (n === issued) break;
    if (i > 150) throw new Error(`analytics has ${n} of ${issued} receipts`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function open(viewport: { width: number; height: number }): Promise<{ page: Page; problems: string[] }> {
  if (!browser || !stack) throw new Error("not started");
  const page = await browser.newPage({ viewport, acceptDownloads: true });
  const problems: string[] = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(`${stack.baseUrl}/dashboard`);
  await page.fill("#tenant", tenant.id);
  await page.fill("#key", tenant.key);
  await page.click("#login button[type=submit]");
  await page.locator("#state", { hasText: "Sales from" }).waitFor({ timeout: 20_000 });
  return { page, problems };
}

const cells = (page: Page, table: string) =>
  page.$$eval(`#${table} tbody tr`, (rows) => rows.map((r) => [...r.children].map((c) => c.textContent ?? "")));

describe("the dashboard in Chromium", () => {
  it("shows a laptop the charts with the API's numbers, switches currency, and downloads the tax CSV", async () => {
    const { page, problems } = await open({ width: 1280, height: 1000 });
    expect(await page.locator("#kpi-receipts").textContent()).toBe("21"); // EUR first: 21 of 24 receipts
    for (const id of ["time-chart", "stores-chart", "payments-chart", "items-chart"]) {
      // Chart.js drew into each canvas.
      expect(await page.$eval(`#${id}`, (c) => (c as unknown as { width: number }).width)).toBeGreaterThan(100);
    }
    const stores = await cells(page, "stores-table");
    expect(stores.map((r) => [r[0], r[1]])).toEqual([
      ["mitte", "12"],
      ["zurich", "9"],
    ]);
    const time = await cells(page, "time-table");
    expect(time).toHaveLength(28);
    expect(time.reduce((s, r) => s + Number(r[1]), 0)).toBe(21);
    const items = await cells(page, "items-table");
    // Flat white: 2 × (160 + 180 + … + 260) = 2520 cents; Brötchen 21 × 90 = 1890; Espresso less.
    expect(items.map((r) => [r[0], r[3]])).toEqual([
      ["Flat white", "12"],
      ["Brötchen", "21"],
      ["Espresso", "9"],
    ]);
    await page.screenshot({ path: resolve(ARTIFACTS, "dashboard-desktop.png"), fullPage: true });

    await page.selectOption("#currency", "CHF");
    expect(await page.locator("#kpi-receipts").textContent()).toBe("3");
    expect((await cells(page, "stores-table")).map((r) => r[0])).toEqual(["zurich"]);

    // The key never reaches the address bar or a cookie.
    expect(page.url()).not.toContain(tenant.key);
    expect(await page.context().cookies()).toEqual([]);

    const date = isoDay(Date.now() - DAY);
    await page.fill("#csv-date", date);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#csv")]);
    expect(download.suggestedFilename()).toBe(`tillproof-${tenant.id}-${date}.csv`);
    const csv = await readFile(await download.path(), "utf8");
    const expected = await api("GET", `/v1/tenants/${tenant.id}/exports/daily.csv?date=${date}`, tenant.key);
    expect(csv).toBe(expected.text);
    expect(csv.split("\r\n").length).toBeGreaterThan(2);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("fits a phone without sideways scrolling, and filters by store", async () => {
    const { page, problems } = await open({ width: 390, height: 844 });
    expect(await page.locator("#login").isHidden()).toBe(true); // signed in: the form gives way to the dashboard
    const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await page.selectOption("#store", "zurich");
    await page.click("#filters button[type=submit]");
    await page.locator("#state", { hasText: "in store zurich" }).waitFor();
    expect(await page.locator("#kpi-receipts").textContent()).toBe("9");
    await page.screenshot({ path: resolve(ARTIFACTS, "dashboard-phone.png"), fullPage: true });
    await page.click("#signout");
    expect(await page.locator("#dashboard").isHidden()).toBe(true);
    expect(await page.locator("#login").isVisible()).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("says so when the key is wrong, and keeps nothing", async () => {
    if (!browser || !stack) throw new Error("not started");
    const page = await browser.newPage();
    await page.goto(`${stack.baseUrl}/dashboard`);
    await page.fill("#tenant", tenant.id);
    await page.fill("#key", "tpk_wrong");
    await page.click("#login button[type=submit]");
    await page.locator("#state", { hasText: "Could not load your sales" }).waitFor();
    expect(await page.evaluate<number>("sessionStorage.length")).toBe(0);
    await page.close();
  });
});
