/**
 * `npm run build:verifier` in Chromium: the page, served from another origin
 * than the gateway, checks a witnessed receipt with only the keys pinned in
 * it (the gateway's CORS headers let it ask), remembers the checkpoint, and
 * says NOT verified for a tree that does not extend the one it kept, or a
 * checkpoint short of its quorum. It checks printed QR codes with the pinned
 * certificate key too: a receipt link's signed payload, and an offline
 * receipt's before and after the till registers it.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStorage, type OfflineState, TerminalClient } from "../../clients/terminal/index.ts";
import { encodePayload, type OfflinePayload, type SignedQrPayload } from "../../core/offline.ts";
import { fromBase64Url } from "../../kit/base64.ts";
import { buildVerifier } from "../../scripts/build-verifier.ts";
import { callStack, OPERATOR_TOKEN, type Stack, stackTerminal, startStack } from "../../scripts/lib/stack/local.ts";
import { cosignerOf, cosignerVkey } from "../../tlog/cosignature.ts";
import { generateSigningKey, parseSigningKey } from "../../tlog/note.ts";
import { launchChromium } from "./chromium.ts";

let stack: Stack;
let browser: Browser;
let site: Server;
let siteUrl: string;
let code: string;
let signedQr: string;
const pages = new Map<string, string>();

async function hosted(name: string, policy: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "verifier-"));
  await writeFile(join(dir, "policy.json"), JSON.stringify(policy));
  const file = await buildVerifier({ policy: join(dir, "policy.json"), url: stack.baseUrl, out: dir });
  pages.set(`/${name}/`, await readFile(file, "utf8"));
  return `${siteUrl}/${name}/`;
}

async function witnessed(path: string): Promise<void> {
  const end = Date.now() + 20_000;
  for (;;) {
    const res = await fetch(`${stack.baseUrl}${path}`);
    if (res.status === 200 && ((await res.json()) as { witnessed: boolean }).witnessed) return;
    if (Date.now() > end) throw new Error(`never witnessed: ${path}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The payload after "#", decoded, changed and encoded again: what a forger would print. */
function altered<P extends OfflinePayload | SignedQrPayload>(qr: string, change: (p: P) => P): string {
  const at = qr.indexOf("#");
  const p = JSON.parse(new TextDecoder().decode(fromBase64Url(qr.slice(at + 1)) ?? new Uint8Array())) as P;
  return `${qr.slice(0, at)}#${encodePayload(change(p))}`;
}

async function check(page: Page, url: string): Promise<{ result: string; verdict: string; steps: string[] }> {
  await page.goto("about:blank"); // another fragment alone would not load the page again
  await page.goto(url);
  await page.waitForSelector(
    "body[data-result=ok], body[data-result=failed], body[data-result=signed], body[data-result=unfinished]",
    { timeout: 15_000 },
  );
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
  ({ code, signedQr } = JSON.parse(res.text) as { code: string; signedQr: string });
  await witnessed(`/v1/verify/${code}`);
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

  it("calls a check it could not make unfinished, never a fork, and refuses an answer for another code", async () => {
    const policy = (await (await fetch(`${stack.baseUrl}/v1/log/witnesses`)).json()) as Record<string, unknown>;
    const url = await hosted("careful", policy);
    const context = await browser.newContext();
    const page = await context.newPage();
    expect((await check(page, `${url}?code=${code}`)).result).toBe("ok");
    // This browser kept a larger tree; the log is asked how they fit, and is rate-limited.
    const larger = `(() => { const k = Object.keys(localStorage)[0]; const v = JSON.parse(localStorage.getItem(k)); localStorage.setItem(k, JSON.stringify({ size: v.size + 3, root: v.root })); })()`;
    await page.evaluate(larger);
    await page.route("**/proof/consistency**", (r) =>
      r.fulfill({ status: 429, headers: { "access-control-allow-origin": "*" }, body: "{}" }),
    );
    const busy = await check(page, `${url}?code=${code}`);
    expect(busy.result, busy.steps.join("\n")).toBe("unfinished");
    expect(busy.verdict).toMatch(/^Not checked yet: the log could not say .*\(HTTP 429\)/);
    await page.unrouteAll();
    // Answered, the log refuses (400): it has no tree as large as the one this browser kept. It went back.
    const back = await check(page, `${url}?code=${code}`);
    expect(back.result).toBe("failed");
    expect(back.verdict).toMatch(/^NOT verified: the tree of \d+ extends the one of/);
    // A made-up code with this receipt's shard and counter (only its check characters differ), answered
    // with this receipt: the answer is not for the code asked about.
    const compact = code.replaceAll("-", "");
    const forged = compact.slice(0, -1) + (compact.endsWith("0") ? "1" : "0");
    const genuine = await (await fetch(`${stack.baseUrl}/v1/verify/${compact}`)).text();
    await page.route(`${stack.baseUrl}/v1/verify/${forged}`, (r) =>
      r.fulfill({
        status: 200,
        headers: { "access-control-allow-origin": "*", "content-type": "application/json" },
        body: genuine,
      }),
    );
    const other = await check(page, `${url}?code=${forged}`);
    expect(other.result).toBe("failed");
    expect(other.verdict).toMatch(/NOT verified: the service answered for this code/);
    await context.close();
  });

  it("the receipt page calls a consistency proof it could not get unfinished, not a fork", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${stack.baseUrl}/r/${code}`);
    await page.locator('#log-check[data-result="ok"]').waitFor();
    await page.evaluate(
      `(() => { const k = Object.keys(localStorage).find((k) => k.startsWith("tillproof-log:")); const v = JSON.parse(localStorage.getItem(k)); localStorage.setItem(k, JSON.stringify({ size: v.size + 3, root: v.root })); })()`,
    );
    await page.route("**/proof/consistency**", (r) => r.fulfill({ status: 429, body: "{}" }));
    await page.reload();
    const unfinished = page.locator('#log-check[data-result="unfinished"]');
    await unfinished.waitFor();
    expect(await unfinished.textContent()).toMatch(/could not finish its check: the log did not answer \(HTTP 429\)/);
    // Answered, the log refuses (400): it no longer reaches the tree this browser saw. That is a failure.
    await page.unrouteAll();
    await page.reload();
    const failed = page.locator('#log-check[data-result="failed"]');
    await failed.waitFor();
    expect(await failed.textContent()).toMatch(/not consistent with the tree of \d+ entries this browser saw before/);
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

  it("checks a receipt link's signed QR code with the pinned certificate key, and refuses a changed amount", async () => {
    const policy = (await (await fetch(`${stack.baseUrl}/v1/log/witnesses`)).json()) as Record<string, unknown>;
    const url = await hosted("qr", policy);
    const context = await browser.newContext();
    const page = await context.newPage();
    const good = await check(page, `${url}#${encodeURIComponent(signedQr)}`);
    expect(good.result, good.steps.join("\n")).toBe("ok");
    expect(good.steps.join("\n")).toMatch(
      /pinned key signed this QR code[\s\S]*the one the QR code signed[\s\S]*cosigned by 1[\s\S]*entry 1 of/,
    );
    // The printed amount was changed after the gateway signed it.
    const forged = altered<SignedQrPayload>(signedQr, (p) => ({ ...p, m: p.m - 100 }));
    const bad = await check(page, `${url}#${encodeURIComponent(forged)}`);
    expect(bad.result).toBe("failed");
    expect(bad.verdict).toMatch(/NOT verified: the gateway's pinned key signed this QR code/);
    // A verifier whose policy pins no certificate key says so rather than trusting the code.
    const blind = await hosted("blind", { ...policy, terminalCertKey: null, retiredTerminalCertKeys: [] });
    const unpinned = await check(page, `${blind}#${encodeURIComponent(signedQr)}`);
    expect(unpinned.result).toBe("failed");
    expect(unpinned.verdict).toMatch(/pins no certificate key/);
    await context.close();
  });

  it("checks an offline receipt's QR code before it is registered, then in the witnessed log; refuses a forged one", async () => {
    const tenantId = "verifier-offline";
    const t = await callStack(stack, "POST", "/v1/tenants", OPERATOR_TOKEN, { id: tenantId, name: "Offline Bakery" });
    await callStack(stack, "PUT", `/v1/tenants/${tenantId}/stores/main`, t.body.apiKey ?? "", {
      name: "Main",
      timezone: "Europe/Berlin",
    });
    let down = false;
    const till = await TerminalClient.enroll({
      baseUrl: stack.baseUrl,
      tenantKey: t.body.apiKey ?? "",
      tenantId,
      storeId: "main",
      terminalId: "till-1",
      storage: new MemoryStorage<OfflineState>(),
      client: {
        attempts: 1,
        timeoutMs: 5_000,
        channel: false,
        fetch: (input, init) => (down ? Promise.reject(new TypeError("network down")) : fetch(input, init)),
      },
    });
    down = true;
    const sold = await till.sell({
      issuedAt: new Date().toISOString(),
      currency: "EUR",
      items: [{ name: "Pretzel", quantity: 3, unitPrice: 90, total: 270 }],
      total: 270,
      payments: [{ method: "cash", amount: 270 }],
    });
    if (!("offline" in sold)) throw new Error("expected an offline receipt");
    const qr = sold.offline.qr;

    const policy = (await (await fetch(`${stack.baseUrl}/v1/log/witnesses`)).json()) as Record<string, unknown>;
    const url = await hosted("offline", policy);
    const context = await browser.newContext();
    const page = await context.newPage();
    const waiting = await check(page, `${url}#${encodeURIComponent(qr)}`);
    expect(waiting.result, waiting.steps.join("\n")).toBe("signed");
    expect(waiting.steps.join("\n")).toMatch(/certified this till's key[\s\S]*till signed this total[\s\S]*was valid/);
    expect(waiting.verdict).toMatch(/not registered yet/);

    // Changed total, and a certificate the pinned key never signed: both NOT verified, before anything is asked.
    const more = altered<OfflinePayload>(qr, (p) => ({ ...p, m: 2700 }));
    expect((await check(page, `${url}#${encodeURIComponent(more)}`)).verdict).toMatch(/NOT verified: the till signed/);
    const uncertified = altered<OfflinePayload>(qr, (p) => ({ ...p, e: "2099-01-01T00:00:00Z" }));
    expect((await check(page, `${url}#${encodeURIComponent(uncertified)}`)).verdict).toMatch(
      /NOT verified: the gateway's pinned certificate key certified/,
    );

    down = false;
    const flushed = await till.flush();
    const registered = flushed.registered[0]?.receipt;
    if (!registered) throw new Error(`not registered: ${JSON.stringify(flushed)}`);
    await witnessed(`/v1/verify/offline/${tenantId}/main/till-1/1`);
    const done = await check(page, `${url}#${encodeURIComponent(qr)}`);
    expect(done.result, done.steps.join("\n")).toBe("ok");
    expect(done.steps.join("\n")).toMatch(
      new RegExp(
        `registered exactly this signed receipt \\(its shop, till, number, time, amount and signature\\) as ${registered.code}[\\s\\S]*hashes to[\\s\\S]*cosigned by 1`,
      ),
    );
    // A service that shows the till's signature under another shop: not the receipt the till signed.
    const answer = (await (
      await fetch(`${stack.baseUrl}/v1/verify/offline/${tenantId}/main/till-1/1`)
    ).json()) as Record<string, unknown> & { store: Record<string, unknown> };
    await page.route(`${stack.baseUrl}/v1/verify/offline/**`, (r) =>
      r.fulfill({
        status: 200,
        headers: { "access-control-allow-origin": "*", "content-type": "application/json" },
        body: JSON.stringify({ ...answer, store: { ...answer.store, id: "elsewhere" } }),
      }),
    );
    const moved = await check(page, `${url}#${encodeURIComponent(qr)}`);
    expect(moved.result).toBe("failed");
    expect(moved.verdict).toMatch(/^NOT verified: the service registered exactly this signed receipt/);
    await context.close();
  });
});
