/**
 * The receipt page in a real browser (Debian's Chromium, driven by
 * playwright-core): receipts issued through the API, branding set through the
 * API, then the page as a customer's phone renders it. Screenshots go to
 * test-artifacts/.
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contrastRatio, toHex } from "../../kit/contrast.ts";
import { OPERATOR_TOKEN, type Stack, startStack } from "../../scripts/lib/stack/local.ts";
import { insiderSql } from "../insider.ts";
import { ARTIFACTS, launchChromium } from "./chromium.ts";

const XSS_ITEM = "<img src=x onerror=alert(1)>";
const LOGO_URL = "https://cdn.brand.test/logo.svg";
const LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><circle cx="20" cy="20" r="18" fill="#fde047"/></svg>';

/** The browser global used inside page.evaluate callbacks (this project type-checks without the DOM lib). */
declare const getComputedStyle: (element: unknown) => { backgroundColor: string; color: string };

let stack: Stack | undefined;
let browser: Browser | undefined;

type Reply<T> = { status: number; body: T };

async function api<T = Record<string, unknown>>(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  if (!stack) throw new Error("stack not started");
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

function must<T>(reply: Reply<T>, status: number, what: string): T {
  if (reply.status !== status) throw new Error(`${what}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

type Tenant = { tenantId: string; apiKey: string; token: string };

/** A tenant with a store (Europe/Berlin) and a terminal, made through the API. */
async function tenant(branding?: Record<string, unknown>): Promise<Tenant> {
  const tenantId = `b-${crypto.randomUUID().slice(0, 8)}`;
  const { apiKey } = must(
    await api<{ apiKey: string }>("POST", "/v1/tenants", {
      token: OPERATOR_TOKEN,
      body: { id: tenantId, name: `Tenant ${tenantId}` },
    }),
    201,
    "tenant",
  );
  must(
    await api("PUT", `/v1/tenants/${tenantId}/stores/main`, {
      token: apiKey,
      body: { name: "Main Street Café", timezone: "Europe/Berlin" },
    }),
    201,
    "store",
  );
  const { token } = must(
    await api<{ token: string }>("POST", `/v1/tenants/${tenantId}/stores/main/terminals`, {
      token: apiKey,
      body: { id: "till-1" },
    }),
    201,
    "terminal",
  );
  if (branding)
    must(await api("PUT", `/v1/tenants/${tenantId}/branding`, { token: apiKey, body: branding }), 200, "branding");
  return { tenantId, apiKey, token };
}

const sale = (firstItem = "Espresso") => ({
  issuedAt: "2026-11-21T10:15:00+01:00",
  currency: "EUR",
  items: [
    { name: firstItem, sku: "A1", quantity: 2, unitPrice: 250, taxRate: 10, total: 500 },
    { name: "Croissant", quantity: 1, unitPrice: 180, total: 180 },
  ],
  total: 680,
  payments: [{ method: "card", amount: 680 }],
});

type Issued = { code: string; verifyUrl: string };

async function issue(t: Tenant, body = sale()): Promise<Issued> {
  return must(
    await api<Issued>("POST", "/v1/receipts", {
      token: t.token,
      body,
      headers: { "idempotency-key": crypto.randomUUID() },
    }),
    201,
    "receipt",
  );
}

/** Until Postgres has the receipt and a signed checkpoint covers it. */
async function untilPersisted(code: string): Promise<void> {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    const r = await api<{ persisted: boolean; proof: unknown }>("GET", `/v1/verify/${code}`);
    if (r.body.persisted && r.body.proof) return;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`receipt ${code} was not persisted in time`);
}

/**
 * A phone-sized page. Requests other than to the stack or the tenant's logo
 * are recorded (there must be none); the logo is served locally.
 */
async function phone(): Promise<{ context: BrowserContext; page: Page; foreign: string[]; cspErrors: string[] }> {
  if (!browser || !stack) throw new Error("browser not started");
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: "en-US",
  });
  const page = await context.newPage();
  const foreign: string[] = [];
  const cspErrors: string[] = [];
  const origin = stack.baseUrl;
  page.on("request", (req) => {
    const url = req.url();
    if (!url.startsWith(origin) && url !== LOGO_URL && !url.startsWith("data:")) foreign.push(url);
  });
  page.on("console", (msg) => {
    if (/Content[- ]Security[- ]Policy/i.test(msg.text())) cspErrors.push(msg.text());
  });
  await page.route(LOGO_URL, (route) => route.fulfill({ status: 200, contentType: "image/svg+xml", body: LOGO_SVG }));
  return { context, page, foreign, cspErrors };
}

const rgbToHex = (rgb: string): string => {
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(rgb);
  if (!m) throw new Error(`not an rgb() colour: ${rgb}`);
  return toHex([Number(m[1]), Number(m[2]), Number(m[3])]);
};

beforeAll(async () => {
  browser = await launchChromium();
  stack = await startStack();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("receipt page in Chromium", () => {
  it("applies the tenant's branding and shows the receipt", async () => {
    const t = await tenant({
      displayName: "Violet Beans",
      primaryColor: "#7C3AED",
      accentColor: "#F59E0B",
      logoUrl: LOGO_URL,
      supportUrl: "https://violet.example/help",
      receiptFooter: "Thank you for your visit!\nOpen daily 7–19.",
    });
    const issued = await issue(t);
    await untilPersisted(issued.code);
    const { context, page, foreign, cspErrors } = await phone();
    const res = await page.goto(issued.verifyUrl);
    expect(res?.status()).toBe(200);
    expect(res?.headers()["cache-control"]).toMatch(/^public, max-age=30/);
    // A phone on a poor connection: the whole page, QR code included, is one small response.
    expect((await res?.body())?.byteLength).toBeLessThan(24 * 1024);

    const header = page.locator("header.brand");
    const colors = await header.evaluate((el) => {
      const s = getComputedStyle(el);
      return { background: s.backgroundColor, color: s.color };
    });
    expect(colors.background).toBe("rgb(124, 58, 237)");
    expect(contrastRatio(rgbToHex(colors.color), rgbToHex(colors.background))).toBeGreaterThanOrEqual(4.5);
    expect(await header.getByText("Violet Beans").isVisible()).toBe(true);
    expect(
      await header.locator("img").evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
    ).toBeGreaterThan(0);

    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Verified");
    const total = page.locator(".total-amount");
    expect(await total.isVisible()).toBe(true);
    expect(await total.textContent()).toBe("€6.80");
    expect(await page.locator("time").first().textContent()).toMatch(/Nov 21, 2026, 10:15\s?AM/);
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered line break (white-space: pre-line) is the point
    expect(await page.locator(".footer-text").innerText()).toBe("Thank you for your visit!\nOpen daily 7–19.");
    // The accent, darkened for legibility, colours the links.
    const link = await page
      .getByRole("link", { name: /Help and support/ })
      .evaluate((el) => getComputedStyle(el).color);
    expect(contrastRatio(rgbToHex(link), "#ffffff")).toBeGreaterThanOrEqual(4.5);
    // The QR code is there and the chain facts are folded away until asked for.
    expect(await page.locator(".qr svg").isVisible()).toBe(true);
    expect(await page.locator("details dl").isVisible()).toBe(false);
    await page.getByText("Chain record").click();
    expect(await page.locator("details dl").isVisible()).toBe(true);

    expect(foreign).toEqual([]);
    expect(cspErrors).toEqual([]);
    await page.screenshot({ path: resolve(ARTIFACTS, "receipt-page-verified.png"), fullPage: true });
    await context.close();
  });

  it("shows a hostile item name as text and runs nothing", async () => {
    const t = await tenant({ displayName: "Plain Shop", primaryColor: "#ffd400" });
    const issued = await issue(t, sale(XSS_ITEM));
    const { context, page, cspErrors } = await phone();
    const dialogs: string[] = [];
    page.on("dialog", async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    await page.goto(issued.verifyUrl);
    await page.waitForLoadState("load");
    await page.waitForTimeout(300);

    expect(await page.getByText(XSS_ITEM, { exact: false }).count()).toBe(1);
    expect(await page.locator("img[src='x']").count()).toBe(0);
    expect(dialogs).toEqual([]);
    // A light brand colour gets dark text.
    const color = await page.locator("header.brand").evaluate((el) => getComputedStyle(el).color);
    expect(color).toBe("rgb(0, 0, 0)");
    expect(cspErrors).toEqual([]);
    await page.screenshot({ path: resolve(ARTIFACTS, "receipt-page-xss-item.png"), fullPage: true });
    await context.close();
  });

  it("warns unmistakably about a tampered receipt", async () => {
    const t = await tenant({ displayName: "Violet Beans", primaryColor: "#7c3aed" });
    const issued = await issue(t);
    await untilPersisted(issued.code);
    await stack?.sql(
      insiderSql(`UPDATE receipts SET total = total + 1000 WHERE code = '${issued.code.replaceAll("-", "")}'`),
    );
    const { context, page } = await phone();
    await page.goto(issued.verifyUrl);
    const alert = page.getByRole("alert");
    expect(await alert.isVisible()).toBe(true);
    expect(await alert.getByRole("heading").textContent()).toBe("TAMPERED");
    expect(await alert.textContent()).toContain("Do not trust this receipt.");
    const bg = await alert.evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(bg).toBe("rgb(185, 28, 28)");
    expect(await page.title()).toMatch(/^TAMPERED receipt/);
    expect(await page.getByText("Verified", { exact: true }).count()).toBe(0);
    // The browser's own check fails too, visibly: the stored record is not what the log signed.
    const check = page.locator('#log-check[data-result="failed"]');
    await check.waitFor();
    expect(await check.textContent()).toContain("could NOT confirm this receipt");
    await page.screenshot({ path: resolve(ARTIFACTS, "receipt-page-tampered.png"), fullPage: true });
    await context.close();
  });

  it("checks the receipt against the signed log in the browser, and shows the checkpoint and key", async () => {
    const t = await tenant({ displayName: "Log Shop", primaryColor: "#0a7cff" });
    const issued = await issue(t);
    await untilPersisted(issued.code);
    const { context, page, cspErrors, foreign } = await phone();
    await page.goto(issued.verifyUrl);
    const check = page.locator('#log-check[data-result="ok"]');
    await check.waitFor();
    expect(await check.textContent()).toContain("Checked by your browser against the signed log");
    await page.getByText("Checkpoint and key").click();
    const vkey = (await (await fetch(`${stack?.baseUrl}/v1/log/key`)).text()).trim();
    expect(await check.locator("pre").textContent()).toMatch(/^browser\.test\/log\/\d+\n\d+\n/);
    expect(await check.locator("code").first().textContent()).toBe(vkey);
    expect(cspErrors).toEqual([]);
    expect(foreign).toEqual([]);
    await page.screenshot({ path: resolve(ARTIFACTS, "receipt-page-log-checked.png"), fullPage: true });
    await context.close();
  });

  it("fails the in-browser check visibly when the page's record was swapped in transit", async () => {
    const t = await tenant({ displayName: "Log Shop", primaryColor: "#0a7cff" });
    const issued = await issue(t);
    await untilPersisted(issued.code);
    const { context, page } = await phone();
    // A lying server (or a proxy): a different total, with a hash that matches it, under a "Verified" banner.
    await page.route(issued.verifyUrl, async (route) => {
      const res = await route.fetch();
      const html = await res.text();
      const forged = html.replace(
        /(<script type="application\/json" id="log-proof">)(.*?)(<\/script>)/s,
        (_, open: string, json: string, close: string) => {
          const data = JSON.parse(json) as { record: string; hash: string };
          data.record = data.record.replace('"total":680', '"total":1');
          data.hash = createHash("sha256").update(data.record).digest("hex");
          return `${open}${JSON.stringify(data).replaceAll("<", "\\u003c")}${close}`;
        },
      );
      expect(forged).not.toBe(html);
      await route.fulfill({ response: res, body: forged });
    });
    await page.goto(issued.verifyUrl);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Verified");
    const check = page.locator('#log-check[data-result="failed"]');
    await check.waitFor();
    expect(await check.textContent()).toContain("is not in the signed tree");
    await context.close();
  });

  it("fails the in-browser check when the page carries another receipt's genuine proof", async () => {
    const t = await tenant({ displayName: "Log Shop", primaryColor: "#0a7cff" });
    const mine = await issue(t);
    const other = await issue(t, sale("Tea"));
    await untilPersisted(mine.code);
    await untilPersisted(other.code);
    const block = /<script type="application\/json" id="log-proof">.*?<\/script>/s;
    const otherBlock = (await (await fetch(other.verifyUrl)).text()).match(block)?.[0] ?? "";
    expect(otherBlock).not.toBe("");
    const { context, page } = await phone();
    await page.route(mine.verifyUrl, async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, body: (await res.text()).replace(block, otherBlock) });
    });
    await page.goto(mine.verifyUrl);
    const check = page.locator('#log-check[data-result="failed"]');
    await check.waitFor();
    expect(await check.textContent()).toContain("for another code");
    await context.close();
  });

  it("tells a shopper a sale was refunded or voided, in words, with links both ways", async () => {
    const t = await tenant({ displayName: "Return Desk", primaryColor: "#0f766e" });
    const bought = await issue(t);
    await untilPersisted(bought.code);
    const { context, page } = await phone();
    // Seen (and cached at the edge) before the refund: the page must not show it stale after.
    await page.goto(bought.verifyUrl);
    expect(await page.locator("[data-kind]").count()).toBe(0);
    const refund = must(
      await api<Issued>("POST", "/v1/receipts", {
        token: t.token,
        headers: { "idempotency-key": crypto.randomUUID() },
        body: {
          kind: "refund",
          refersTo: bought.code,
          issuedAt: new Date().toISOString(),
          currency: "EUR",
          items: [{ name: "Espresso", sku: "A1", quantity: 1, unitPrice: 250, taxRate: 10, total: 250 }],
          total: 250,
          payments: [{ method: "card", amount: 250 }],
        },
      }),
      201,
      "refund",
    );
    await page.goto(bought.verifyUrl);
    const note = page.locator("[data-kind=refunded]");
    expect(await note.getByRole("heading").textContent()).toBe("Partly refunded");
    expect(await note.textContent()).toContain("€2.50 of €6.80 was given back");
    await page.screenshot({ path: resolve(ARTIFACTS, "receipt-page-refunded.png"), fullPage: true });
    await note.getByRole("link", { name: refund.code }).click();
    await page.waitForURL(`**/r/${refund.code}`);
    const back = page.locator("[data-kind=refund]");
    expect(await back.getByRole("heading").textContent()).toBe("Refund");
    expect(await back.textContent()).toContain("€2.50 given back");
    await back.getByRole("link", { name: bought.code }).click();
    await page.waitForURL(`**/r/${bought.code}`);

    const mistake = await issue(t);
    const voided = must(
      await api<Issued>("POST", "/v1/receipts", {
        token: t.token,
        headers: { "idempotency-key": crypto.randomUUID() },
        body: { ...sale(), kind: "void", refersTo: mistake.code, issuedAt: new Date().toISOString() },
      }),
      201,
      "void",
    );
    await page.goto(mistake.verifyUrl);
    const gone = page.locator("[data-kind=voided]");
    expect(await gone.getByRole("heading").textContent()).toBe("Voided");
    expect(await gone.textContent()).toContain("It no longer counts");
    expect(await page.title()).toContain("Voided receipt");
    // The banner a shopper reads first says it too, not a plain "Verified".
    expect(await page.locator("#state-title").textContent()).toBe("Verified — but voided");
    await page.screenshot({ path: resolve(ARTIFACTS, "receipt-page-voided.png"), fullPage: true });
    await gone.getByRole("link", { name: voided.code }).click();
    await page.waitForURL(`**/r/${voided.code}`);
    expect(await page.locator("[data-kind=void]").getByRole("heading").textContent()).toBe("Cancellation");
    await context.close();
  });

  it("still shows the server's answer with JavaScript off", async () => {
    const t = await tenant({ displayName: "Log Shop", primaryColor: "#0a7cff" });
    const issued = await issue(t);
    await untilPersisted(issued.code);
    if (!browser) throw new Error("browser not started");
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.goto(issued.verifyUrl);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Verified");
    expect(await page.locator("#log-check").getAttribute("data-result")).toBe("nojs");
    expect(await page.locator("#log-check p").first().textContent()).toContain("if JavaScript is on");
    await context.close();
  });

  it("explains an unknown code on a neutral page", async () => {
    const { context, page } = await phone();
    const res = await page.goto(`${stack?.baseUrl}/r/0000-0000-0000-0000`);
    expect(res?.status()).toBe(400);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Not a valid receipt code");
    await page.screenshot({ path: resolve(ARTIFACTS, "receipt-page-invalid-code.png"), fullPage: true });
    await context.close();
  });
});
