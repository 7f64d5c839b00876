/**
 * The operator's console at /ops in Chromium: all well, then Postgres made
 * unreachable (the Worker's tunnel refuses it) while receipts keep being
 * issued, then back. The outage's screenshot goes to test-artifacts/.
 */
import { resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callStack, OPERATOR_TOKEN, type Stack, startStack } from "../../scripts/lib/stack/local.ts";
import { ARTIFACTS, launchChromium } from "./chromium.ts";

let stack: Stack | undefined;
let browser: Browser | undefined;

function api(method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) {
  if (!stack) throw new Error("stack not started");
  return callStack(stack, method, path, token, body, headers);
}

/** A tenant, a store and a terminal, made through the API; returns the terminal's token. */
async function terminal(): Promise<string> {
  const id = `ops-${crypto.randomUUID().slice(0, 8)}`;
  const t = await api("POST", "/v1/tenants", OPERATOR_TOKEN, { id, name: "Ops Test" });
  await api("PUT", `/v1/tenants/${id}/stores/main`, t.body.apiKey ?? "", { name: "Main", timezone: "Europe/Berlin" });
  const r = await api("POST", `/v1/tenants/${id}/stores/main/terminals`, t.body.apiKey ?? "", { id: "till-1" });
  return r.body.token ?? "";
}

const sale = {
  issuedAt: "2026-11-21T10:15:00+01:00",
  currency: "EUR",
  items: [{ name: "Espresso", quantity: 1, unitPrice: 250, total: 250 }],
  total: 250,
  payments: [{ method: "cash", amount: 250 }],
};

const alertsText = async (page: Page) => (await page.locator("#alerts").textContent()) ?? "";

beforeAll(async () => {
  browser = await launchChromium();
  stack = await startStack();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("operations console in Chromium", () => {
  it("shows all well, then a Postgres outage while it happens, then the recovery", async () => {
    if (!browser || !stack) throw new Error("not started");
    const token = await terminal();
    const issue = () => api("POST", "/v1/receipts", token, sale, { "idempotency-key": crypto.randomUUID() });
    expect((await issue()).status).toBe(201);

    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const problems: string[] = [];
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(`${stack.baseUrl}/ops`);
    expect(await page.locator("#state").textContent()).toContain("Enter the operator token");
    await page.fill("#token", OPERATOR_TOKEN);
    await page.click("button[type=submit]");
    await page.locator("#alerts li", { hasText: "All is well." }).waitFor({ timeout: 20_000 });
    expect(await page.locator("#shards tbody tr").count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator("#postgres").textContent()).toBe("up");
    // The token lives in this tab's session storage only, never in the page's address or a cookie.
    expect(page.url()).not.toContain(OPERATOR_TOKEN);
    expect(await page.context().cookies()).toEqual([]);

    stack.postgresDown(true);
    expect((await issue()).status).toBe(201); // issuing does not need Postgres
    await page.locator("#alerts li", { hasText: "Postgres does not answer" }).waitFor({ timeout: 30_000 });
    expect(await page.locator("#postgres").textContent()).toBe("DOWN");
    expect(await page.locator("#partitions").textContent()).toContain("unknown");
    const unpersisted = await page.locator("#shards tbody tr td:nth-child(3)").allTextContents();
    expect(unpersisted.map(Number).some((n) => n >= 1)).toBe(true);
    await page.screenshot({ path: resolve(ARTIFACTS, "ops-console-outage.png"), fullPage: true });

    stack.postgresDown(false);
    await page.locator("#postgres", { hasText: /^up$/ }).waitFor({ timeout: 45_000 });
    expect(await alertsText(page)).not.toContain("Postgres does not answer");
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);
});
