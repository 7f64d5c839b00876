/**
 * The static parts of the shopper's pages, in workerd: the receipt page's
 * check script is served only as the version a page pins (another deploy's
 * version is a 404 no cache keeps), and the /o page is never served, nor
 * kept, without the keys it checks receipts with.
 */
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../workers/index.ts";
import { LOG_CHECK_SCRIPT_URL, LOG_CHECK_SCRIPT_VERSION } from "../../workers/verify/log-check.ts";
import { call } from "./helpers.ts";

describe("the receipt page's check script", () => {
  it("is kept for good under the version pages pin, and another version is a 404 nobody keeps", async () => {
    const pinned = await call("GET", LOG_CHECK_SCRIPT_URL);
    expect(pinned.status).toBe(200);
    expect(pinned.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const other = await call<{ error: { code: string } }>("GET", `/r-check.js?v=${"0".repeat(16)}`);
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe("not_found");
    expect(other.headers.get("cache-control")).toBe("no-store");
    const bare = await call("GET", "/r-check.js");
    expect(bare.status).toBe(200);
    expect(bare.headers.get("cache-control")).not.toContain("immutable");
    expect(LOG_CHECK_SCRIPT_VERSION).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("the /o page", () => {
  it("is not served, nor kept, when the deployment's certificate keys cannot be read", async () => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("https://tillproof.test/o"),
      { ...env, TERMINAL_CERT_RETIRED: "not-a-key" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(503);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("retry-after")).toBe("30");
    expect(await res.text()).toContain("Try again in a minute");
    const fine = await call("GET", "/o");
    expect(fine.status).toBe(200);
    expect(fine.headers.get("cache-control")).toBe("public, max-age=3600");
  });
});

describe("a receipt page's address", () => {
  it("answers the public rate limit with a page, not the API's JSON", async () => {
    const limited = { ...env, PUBLIC_RPS: "1" };
    const get = async () => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request("https://tillproof.test/r/NOT-A-CODE", { headers: { "cf-connecting-ip": "203.0.113.77" } }),
        limited,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res;
    };
    const answers = [await get(), await get(), await get()];
    const last = answers.at(-1) as Response;
    expect(answers.slice(0, -1).map((r) => r.status)).toEqual([400, 400]);
    expect(last.status).toBe(429);
    expect(last.headers.get("content-type")).toMatch(/^text\/html/);
    expect(last.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(last.headers.get("cache-control")).toBe("no-store");
    expect(last.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await last.text()).toContain("Too many checks");
  });

  it("sends a code with a stray slash after it to the code's page", async () => {
    const res = await SELF.fetch("https://tillproof.test/r/7K3M-0QX2-9TBD-4HFA-2C8N/", { redirect: "manual" });
    expect(res.status).toBe(301);
    expect(res.headers.get("location")).toBe("https://tillproof.test/r/7K3M-0QX2-9TBD-4HFA-2C8N");
  });
});
