/**
 * `npm run build:verifier` in Chromium: the page, served from another origin
 * than the gateway, checks a witnessed receipt with only the keys pinned in
 * it (the gateway's CORS headers let it ask), remembers the checkpoint, and
 * says NOT verified for a tree that does not extend the one it kept, or a
 * checkpoint short of its quorum.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildVerifier } from "../../scripts/build-verifier.ts";
import { cosignerOf, cosignerVkey } from "../../tlog/cosignature.ts";
import { generateSigningKey, parseSigningKey } from "../../tlog/note.ts";
import { callStack, type Stack, stackTerminal, startStack } from "../stack.ts";
import { launchChromium } from "./chromium.ts";

let stack: Stack;
let browser: Browser;
let site: Server;
let siteUrl: string;
let code: string;
const pages = new Map<string, string>();

async function hosted(name: string, policy: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "verifier-"));
  await writeFile(join(dir, "policy.json"), JSON.stringify(policy));
  const file = await buildVerifier({ policy: join(dir, "policy.json"), url: stack.baseUrl, out: dir });
  pages.set(`/${name}/`, await readFile(file, "utf8"));
  return `${siteUrl}/${name}/`;
}

async function check(page: Page, url: string): Promise<{ result: string; verdict: string; steps: string[] }> {
  await page.goto(url);
  await page.waitForSelector("body[data-result=ok], body[data-result=failed]", { timeout: 15_000 });
  return {
    result: (await page.getAttribute("body", "data-result")) ?? "",
    verdict: await page.innerText("#verdict"),
    steps: await page.locator("#steps li").allInnerTexts(),
  };
}

beforeAll(async () => {
  stack = await startStack({ witness: true, vars: { VERIFIER_URL: "https://verifier.example.org/check" } });
  const token = await stackTerminal(stack, "verifier", "Verifier Bakery");
  const res = await callStack(
    stack,
    "POST",
    "/v1/receipts",
    token,
    {
      issuedAt: "2026-12-06T10:15:00+01:00",
      currency: "EUR",
      cashier: "Anna",
      items: [{ name: "Rye bread", quantity: 2, unitPrice: 250, total: 500 }],
      total: 500,
      payments: [{ method: "card", amount: 500 }],
    },
    { "idempotency-key": "verifier-1" },
  );
  if (res.status !== 201) throw new Error(`receipt: ${res.status} ${res.text}`);
  code = (JSON.parse(res.text) as { code: string }).code;
  const end = Date.now() + 20_000;
  for (;;) {
    const v = (await (await fetch(`${stack.baseUrl}/v1/verify/${code}`)).json()) as { witnessed: boolean };
    if (v.witnessed) break;
    if (Date.now() > end) throw new Error("never witnessed");
    await new Promise((r) => setTimeout(r, 100));
  }
  site = createServer((req, res) => {
    const body = pages.get(new URL(req.url ?? "/", "http://x").pathname);
    res.writeHead(body ? 200 : 404, { "content-type": "text/html; charset=utf-8" }).end(body ?? "");
  });
  await new Promise<void>((ok) => site.listen(0, "127.0.0.1", ok));
  // "localhost", not the gateway's 127.0.0.1: another origin, as any third party's host is.
  siteUrl = `http://localhost:${(site.address() as AddressInfo).port}`;
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  site?.close();
  await stack?.stop();
});

describe("the independent verifier", () => {
  it("checks a witnessed receipt from another origin with the pinned keys, and keeps the checkpoint", async () => {
    const policy = (await (await fetch(`${stack.baseUrl}/v1/log/witnesses`)).json()) as Record<string, unknown>;
    const url = await hosted("pinned", policy);
    const context = await browser.newContext();
    const page = await context.newPage();
    const first = await check(page, `${url}?code=${encodeURIComponent(code)}`);
    expect(first.result, first.steps.join("\n")).toBe("ok");
    expect(first.steps.join("\n")).toMatch(
      /hashes to[\s\S]*signed by the pinned log key[\s\S]*cosigned by 1[\s\S]*entry 1 of[\s\S]*first checkpoint/,
    );
    // Typed with dashes and in lower case, from the receipt link: the same receipt, now against the kept tree.
    const again = await check(page, `${url}#${encodeURIComponent(`${stack.baseUrl}/r/${code.toLowerCase()}`)}`);
    expect(again.result, again.steps.join("\n")).toBe("ok");
    expect(again.steps.at(-1)).toMatch(/same tree|extends/);

    // This browser once saw another tree of the same size: the log is not what it showed before.
    const slot = (await page.evaluate("Object.keys(localStorage)")) as string[];
    expect(slot).toHaveLength(1);
    await page.evaluate(
      `(() => { const k = Object.keys(localStorage)[0]; const v = JSON.parse(localStorage.getItem(k)); localStorage.setItem(k, JSON.stringify({ size: v.size, root: "07".repeat(32) })); })()`,
    );
    const forked = await check(page, `${url}?code=${code}`);
    expect(forked.result).toBe("failed");
    expect(forked.verdict).toMatch(/NOT verified/);
    await context.close();
  });

  it("the receipt page checks the cosignatures too, keeps the tree it saw, and links to the independent verifier", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${stack.baseUrl}/r/${code}`);
    const check = page.locator('#log-check[data-result="ok"]');
    await check.waitFor();
    expect(await check.textContent()).toMatch(/cosigned by 1 of 1 witnesses/);
    const link = page.getByRole("link", { name: "Check it with the independent verifier" });
    expect(await link.getAttribute("href")).toMatch(/^https:\/\/verifier\.example\.org\/check\?code=[0-9A-Z-]+$/);
    // A tree of the same size this browser saw before, with another root: the page refuses it.
    await page.evaluate(
      `(() => { const k = Object.keys(localStorage).find((k) => k.startsWith("tillproof-log:")); const v = JSON.parse(localStorage.getItem(k)); localStorage.setItem(k, JSON.stringify({ size: v.size, root: "07".repeat(32) })); })()`,
    );
    await page.reload();
    const failed = page.locator('#log-check[data-result="failed"]');
    await failed.waitFor();
    expect(await failed.textContent()).toMatch(/another tree of \d+ entries than this browser saw before/);
    await context.close();
  });

  it("says NOT verified when the checkpoint lacks the pinned quorum, or for a code it cannot find", async () => {
    const policy = (await (await fetch(`${stack.baseUrl}/v1/log/witnesses`)).json()) as {
      witnesses: { vkey: string }[];
    };
    const absent = cosignerVkey(
      await cosignerOf(await parseSigningKey((await generateSigningKey("absent")).privateKey)),
    );
    const strict = await hosted("strict", { ...policy, witnesses: [...policy.witnesses, { vkey: absent }], quorum: 2 });
    const context = await browser.newContext();
    const page = await context.newPage();
    const short = await check(page, `${strict}?code=${code}`);
    expect(short.result).toBe("failed");
    expect(short.verdict).toMatch(/cosigned by 1 of the witnesses, fewer than the 2 required/);
    const unknown = await check(page, `${strict}?code=${code.slice(0, -1)}${code.endsWith("0") ? "1" : "0"}`);
    expect(unknown.result).toBe("failed");
    await context.close();
  });
});
