/**
 * The API reference at /docs in Chromium: Swagger UI (served from this origin)
 * renders every operation of /openapi.json, under the page's CSP, without a
 * request to any other origin; and its "Try it out" issues a real receipt.
 */
import { resolve } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callStack, OPERATOR_TOKEN, type Stack, startStack } from "../../scripts/lib/stack/local.ts";
import { ARTIFACTS, launchChromium } from "./chromium.ts";

let stack: Stack | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  [browser, stack] = await Promise.all([launchChromium(), startStack()]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("the API reference in Chromium", () => {
  it("renders every operation, from this origin only, and its Try it out issues a receipt", async () => {
    if (!stack || !browser) throw new Error("not started");
    const base = stack.baseUrl;
    const id = `docs-${crypto.randomUUID().slice(0, 8)}`;
    const t = await callStack(stack, "POST", "/v1/tenants", OPERATOR_TOKEN, { id, name: "Docs" });
    await callStack(stack, "PUT", `/v1/tenants/${id}/stores/main`, t.body.apiKey ?? "", {
      name: "Main",
      timezone: "Europe/Berlin",
    });
    const terminal = await callStack(stack, "POST", `/v1/tenants/${id}/stores/main/terminals`, t.body.apiKey ?? "", {
      id: "till-1",
    });
    type Doc = { paths: Record<string, object>; webhooks: Record<string, object> };
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as Doc;
    const count = (group: Record<string, object>) =>
      Object.values(group).reduce((n, o) => n + Object.keys(o).length, 0);
    const operations = count(doc.paths) + count(doc.webhooks);

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    // CSP violations and script errors show here; failed loads are judged by their responses below
    // (the browser's own /favicon.ico request, a 404, has no response event).
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource"))
        problems.push(`console: ${m.text()}`);
    });
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${new URL(r.url()).pathname}`);
    });
    const foreign: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith("data:")) foreign.push(r.url());
    });
    const res = await page.goto(`${base}/docs`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()["content-security-policy"]).toContain("script-src 'self'");
    await page.locator(".opblock").first().waitFor();
    expect(await page.locator(".opblock").count()).toBe(operations);
    expect(await page.locator(".servers select").inputValue()).toBe(base);

    // Try it out: the terminal's token, a key, the documented example body; Execute.
    await page.locator("button.authorize").click();
    await page
      .locator(".auth-container")
      .filter({ hasText: "terminal" })
      .locator("input")
      .fill(terminal.body.token ?? "");
    await page.locator(".auth-container").filter({ hasText: "terminal" }).locator("button.authorize").click();
    await page.locator("button.close-modal").click();
    const op = page.locator("#operations-Ingest-issueReceipt");
    await op.locator(".opblock-summary").click();
    await op.locator("button.try-out__btn").click();
    await op.locator('tr[data-param-name="idempotency-key"] input').fill(`docs-${Date.now()}`);
    await op.locator("button.execute").click();
    const code = op.locator(".live-responses-table tr.response .response-col_status").first();
    await code.waitFor();
    expect((await code.textContent())?.trim()).toBe("201");
    await page.screenshot({ path: resolve(ARTIFACTS, "api-reference.png") });

    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    const persisted = await stack.sql<{ n: number }>("SELECT count(*)::int AS n FROM receipts WHERE tenant_id = $1", [
      id,
    ]);
    expect(persisted.length).toBe(1);
    await page.close();
  });
});
