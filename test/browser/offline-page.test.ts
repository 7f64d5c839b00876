/**
 * The `/o` page in Debian's Chromium (contract v1.2): the QR of a receipt a
 * till signed offline, opened for a registered, an unregistered and a
 * tampered payload, and with the browser offline after the first load. Also:
 * the receipt page's QR code carries the signed QR the terminal got.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStorage, type OfflineState, type SaleInput, TerminalClient } from "../../clients/terminal/index.ts";
import { callStack, OPERATOR_TOKEN, type Stack, startStack } from "../../scripts/lib/stack/local.ts";
import { insiderSql } from "../insider.ts";
import { launchChromium } from "./chromium.ts";

let stack: Stack;
let browser: Browser;
const tenantId = `o-${crypto.randomUUID().slice(0, 8)}`;
/** QR texts: one registered, one not (yet). */
let registered = "";
let registeredCode = "";
/** Registered, then changed in Postgres by an insider. */
let changed = "";
let changedCode = "";
let unregistered = "";
let onlineQr = "";
let onlineCode = "";

const sale = (total: number): SaleInput => ({
  issuedAt: new Date().toISOString(),
  currency: "EUR",
  items: [{ name: "Bread", quantity: 1, unitPrice: total, total }],
  total,
  payments: [{ method: "cash", amount: total }],
});

beforeAll(async () => {
  stack = await startStack();
  browser = await launchChromium();
  const t = await callStack(stack, "POST", "/v1/tenants", OPERATOR_TOKEN, { id: tenantId, name: "Bakery" });
  const apiKey = t.body.apiKey ?? "";
  await callStack(stack, "PUT", `/v1/tenants/${tenantId}/stores/main`, apiKey, {
    name: "Main",
    timezone: "Europe/Berlin",
  });
  const storage = new MemoryStorage<OfflineState>();
  const online = await TerminalClient.enroll({
    baseUrl: stack.baseUrl,
    tenantKey: apiKey,
    tenantId,
    storeId: "main",
    terminalId: "till-1",
    storage,
  });
  const sold = await online.sell(sale(250));
  if (!("receipt" in sold)) throw new Error("expected an online sale");
  onlineQr = sold.receipt.signedQr ?? "";
  onlineCode = sold.receipt.code;
  // The same till with no network: its sales are signed offline.
  const state = (await storage.load()) as OfflineState;
  const cut = new TerminalClient({
    baseUrl: stack.baseUrl,
    token: state.identity.token,
    offline: storage,
    attempts: 1,
    // No network: HTTP fails, and no socket either.
    fetch: () => Promise.reject(new TypeError("network down")),
    channel: false,
  });
  const first = await cut.sell(sale(390));
  if (!("offline" in first)) throw new Error("expected an offline sale");
  registered = first.offline.qr;
  const third = await cut.sell(sale(510));
  if (!("offline" in third)) throw new Error("expected an offline sale");
  changed = third.offline.qr;
  const flushed = await online.flush();
  registeredCode = flushed.registered[0]?.receipt.code ?? "";
  changedCode = flushed.registered[1]?.receipt.code ?? "";
  const second = await cut.sell(sale(120));
  if (!("offline" in second)) throw new Error("expected an offline sale");
  unregistered = second.offline.qr;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Each check's verdict on the page (pass, fail, or wait while the gateway cannot say). */
async function verdicts(page: Page, settled: "pass" | "wait" | "fail") {
  await page.waitForSelector(`#reg[data-result="${settled}"]`, { timeout: 15_000 });
  const of = (id: string) => page.locator(`#${id}`).getAttribute("data-result");
  return {
    cert: await of("cert"),
    sig: await of("sig"),
    valid: await of("valid"),
    reg: await of("reg"),
    text: await page.locator("#reg").textContent(),
  };
}

/** A browser that opened /o once: its service worker is running and has kept the page. */
async function afterFirstVisit(): Promise<BrowserContext> {
  const context = await browser.newContext();
  const first = await context.newPage();
  await first.goto(registered);
  await verdicts(first, "pass");
  await first.evaluate(async () => {
    const sw = (globalThis as unknown as { navigator: { serviceWorker: { ready: Promise<unknown> } } }).navigator
      .serviceWorker;
    await sw.ready;
  });
  return context;
}

/** The payload with its total changed after the till signed it. */
function tampered(qr: string): string {
  const [base, payload = ""] = qr.split("#");
  const json = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
  return `${base}#${Buffer.from(JSON.stringify({ ...json, m: 39 }), "utf8").toString("base64url")}`;
}

describe("the /o page", () => {
  it("checks a registered receipt and links to it", async () => {
    const page = await browser.newPage();
    await page.goto(registered);
    expect(await verdicts(page, "pass")).toMatchObject({ cert: "pass", sig: "pass", valid: "pass", reg: "pass" });
    expect(await page.locator("#reg a").getAttribute("href")).toBe(`/r/${registeredCode}`);
    expect(await page.locator("#total").textContent()).toBe("3.90 EUR");
    await page.close();
  });

  it("checks an unregistered one and says it is not registered yet", async () => {
    const page = await browser.newPage();
    await page.goto(unregistered);
    const v = await verdicts(page, "wait");
    expect(v).toMatchObject({ cert: "pass", sig: "pass", valid: "pass" });
    expect(v.text).toMatch(/Not registered yet/);
    await page.close();
  });

  it("fails a tampered one, in words", async () => {
    const page = await browser.newPage();
    await page.goto(tampered(unregistered));
    await page.waitForSelector("#sig[data-result]");
    expect(await page.locator("#sig").getAttribute("data-result")).toBe("fail");
    expect(await page.locator("#cert").getAttribute("data-result")).toBe("pass");
    expect(await page.locator("#sig").textContent()).toMatch(/changed after the till signed/);
    expect(await page.locator("body").getAttribute("data-state")).toBe("failed");
    await page.close();
  });

  it("fails a registered one whose stored record the gateway itself finds changed", async () => {
    const compact = changedCode.replaceAll("-", "");
    for (let i = 0; !(await stack.sql("SELECT 1 FROM receipts WHERE code = $1", [compact])).length; i++) {
      if (i > 100) throw new Error("the receipt never reached Postgres");
      await new Promise((ok) => setTimeout(ok, 100));
    }
    // The items changed, the total, signature and numbers left as the till signed them.
    await stack.sql(
      insiderSql(
        `UPDATE receipts SET items = '[{"name":"Gold","quantity":1,"unitPrice":510,"total":510}]' WHERE code = '${compact}'`,
      ),
    );
    const page = await browser.newPage();
    await page.goto(changed);
    const v = await verdicts(page, "fail");
    expect(v).toMatchObject({ cert: "pass", sig: "pass", valid: "pass", reg: "fail" });
    expect(v.text).toMatch(/CHANGED since \(tampered\)/);
    await page.close();
  });

  it("keeps working with the browser offline after the first load", async () => {
    const context = await afterFirstVisit();
    await context.setOffline(true);
    const page = await context.newPage();
    await page.goto(unregistered);
    const v = await verdicts(page, "wait");
    expect(v).toMatchObject({ cert: "pass", sig: "pass", valid: "pass" });
    expect(v.text).toMatch(/No network/);
    await context.close();
  });
});

describe("the /o page's service worker", () => {
  it("shows the page it kept when the gateway answers an error (a 503 while its keys cannot be read)", async () => {
    const context = await afterFirstVisit();
    // The service worker's own request for /o meets the gateway's 503.
    await context.route(/\/o$/, (r) =>
      r.fulfill({ status: 503, contentType: "text/html", body: "<p>Try again shortly</p>" }),
    );
    const page = await context.newPage();
    await page.goto(unregistered);
    const v = await verdicts(page, "wait");
    expect(v).toMatchObject({ cert: "pass", sig: "pass", valid: "pass" });
    await context.close();
  });
});

describe("the receipt page's QR code", () => {
  it("carries the signed QR the terminal was given", async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.baseUrl}/r/${onlineCode}`);
    expect(await page.locator(".qr [data-qr]").getAttribute("data-qr")).toBe(onlineQr);
    await page.close();
  });
});
