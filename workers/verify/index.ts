/** Public verification: JSON for apps, an HTML page for the QR code on the receipt. */
import { Hono } from "hono";
import { ApiError } from "../../core/errors.ts";
import type { AppEnv, Ctx } from "../http.ts";
import { verifyCode } from "./lookup.ts";
import { errorPage, receiptPage } from "./page.tsx";

export const verify = new Hono<AppEnv>();

/**
 * Persisted receipts may be cached briefly at the edge (they can still turn
 * "tampered", so not for long); receipts still in flight are not cached at all.
 */
function cacheFor(c: Ctx, persisted: boolean): void {
  c.header("Cache-Control", persisted ? "public, max-age=30, stale-while-revalidate=30" : "no-store");
}

verify.get("/v1/verify/:code", async (c) => {
  const receipt = await verifyCode(c, c.req.param("code"));
  cacheFor(c, receipt.persisted);
  return c.json(receipt);
});

verify.get("/r/:code", async (c) => {
  try {
    const receipt = await verifyCode(c, c.req.param("code"));
    cacheFor(c, receipt.persisted);
    return c.html(receiptPage(receipt));
  } catch (e) {
    if (!(e instanceof ApiError) || e.status >= 500) throw e;
    c.header("Cache-Control", "no-store");
    return c.html(errorPage(e), e.status);
  }
});
