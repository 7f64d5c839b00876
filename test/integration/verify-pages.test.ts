/**
 * The static parts of the shopper's pages, in workerd: the receipt page's
 * check script is served only as the version a page pins (another deploy's
 * version is a 404 no cache keeps), and the /o page is never served, nor
 * kept, without the keys it checks receipts with.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
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
