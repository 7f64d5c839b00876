/** Public verification: JSON for apps, an HTML page for the QR code on the receipt. */
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ApiError, notFound } from "../../api/errors.ts";
import { config } from "../../core/config.ts";
import { findStore } from "../../db/stores.ts";
import { toBase64 } from "../../kit/base64.ts";
import { describeError } from "../../kit/describe-error.ts";
import { pickLocale } from "../../kit/format.ts";
import { verifierKeyOf } from "../../tlog/note.ts";
import { primarySigner, witnessPolicyFor } from "../../tlog/signers.ts";
import { type AppEnv, type Ctx, pg, publicBaseUrl } from "../http.ts";
import { router } from "../openapi.ts";
import { logger } from "../request-context.ts";
import { callShard, shard } from "../shards.ts";
import { certKeys, signedQrOf } from "../shared/cert-keys.ts";
import { type Verification, verifyCode } from "../shared/lookup.ts";
import { lotteryFor } from "../shared/lottery-entries.ts";
import type { Page } from "../shared/page-shell.tsx";
import { contentSecurityPolicy } from "../shared/page-style.ts";
import { edgeCache } from "../shared/verify-cache.ts";
import { LOG_CHECK_SCRIPT, LOG_CHECK_SCRIPT_VERSION } from "./log-check.ts";
import { offlinePage, offlineServiceWorker } from "./offline-page.ts";
import { errorPage, receiptPage } from "./page.tsx";
import {
  logCheckScriptRoute,
  offlinePageRoute,
  offlineVerifyRoute,
  offlineWorkerRoute,
  receiptPageRoute,
  verifyRoute,
} from "./routes.ts";

export const verify = router();

/**
 * Persisted receipts with their proof may be cached briefly at the edge (they
 * can still turn "tampered", so for 30 s at most, with no stale serving after
 * it: README "VERIFY_EDGE_CACHE"); receipts still in flight, or not yet in a
 * signed checkpoint, are not cached at all.
 */
function cacheFor(c: Ctx, r: { persisted: boolean; proof: unknown }): void {
  const stable = r.persisted && r.proof !== null;
  c.header("Cache-Control", stable ? "public, max-age=30" : "no-store");
}

const maybeEdgeCache: MiddlewareHandler<AppEnv> = (c, next) =>
  config(c.env).VERIFY_EDGE_CACHE === "on" ? edgeCache(c, next) : next();

verify.openapi(verifyRoute(maybeEdgeCache), async (c) => {
  const { receipt } = await verifyCode(c, c.req.valid("param").code);
  cacheFor(c, receipt);
  return c.json(receipt, 200);
});

/**
 * An offline receipt by its terminal's sequence: the store's shard (from
 * Postgres) knows the code it got; then the same answer as by its code.
 */
verify.openapi(offlineVerifyRoute, async (c) => {
  const { tenantId, storeId, terminalId, terminalSeq } = c.req.valid("param");
  const store = await findStore(pg(c).db, tenantId, storeId).catch((e: unknown) => {
    logger.error({ msg: "verify offline: postgres failed", error: describeError(e) });
    throw new ApiError(503, "unavailable", "The receipt store cannot be reached; try again shortly.", {
      retryAfter: 5,
    });
  });
  const n = store?.shard;
  const code =
    n === undefined
      ? null
      : await callShard(n, () => shard(c.env, n).offlineCode({ tenantId, storeId, terminalId, terminalSeq }));
  if (code === null) {
    c.header("Cache-Control", "no-store");
    throw new ApiError(404, "not_registered", "The gateway has not registered this offline receipt (yet).");
  }
  const { receipt } = await verifyCode(c, code);
  cacheFor(c, receipt);
  return c.json(receipt, 200);
});

/** The `/o` page: static for a deployment (its keys pinned), so browsers and the edge may keep it. */
verify.openapi(offlinePageRoute, async (c) => {
  const keys = await certKeys(c.env).catch((e: unknown) => {
    logger.error({ msg: "/o: certificate keys unreadable", error: describeError(e) });
    return undefined;
  });
  if (keys === undefined) {
    // A page pinning no key would call every genuine receipt forged, and browsers would keep it.
    c.header("Cache-Control", "no-store");
    c.header("Retry-After", "30");
    return c.html(
      "<!DOCTYPE html><title>Try again shortly</title><p>This page cannot check receipts right now. Try again in a minute.</p>",
      503,
    );
  }
  const page = offlinePage((keys?.trusted ?? []).map(toBase64));
  c.header("Content-Security-Policy", page.csp);
  c.header("X-Frame-Options", "DENY");
  c.header("Referrer-Policy", "no-referrer");
  c.header("Cache-Control", "public, max-age=3600");
  return c.html(page.html, 200);
});

/** The receipt page's check: one file for every receipt, versioned by its hash (?v=) so it can be kept for good. */
verify.openapi(logCheckScriptRoute, (c) => {
  const { v } = c.req.valid("query");
  if (v !== undefined && v !== LOG_CHECK_SCRIPT_VERSION) {
    // Another deploy's page: kept for good under its URL, this script would fail its integrity check for good.
    c.header("Cache-Control", "no-store");
    throw notFound(`Version ${v} of the check script`);
  }
  c.header("Cache-Control", v ? "public, max-age=31536000, immutable" : "public, max-age=60");
  return c.body(LOG_CHECK_SCRIPT, 200, { "content-type": "text/javascript; charset=utf-8" });
});

verify.openapi(offlineWorkerRoute, (c) => {
  c.header("Cache-Control", "public, max-age=3600");
  return c.body(offlineServiceWorker(), 200, { "content-type": "text/javascript; charset=utf-8" });
});

/**
 * A shopper's page address answers in HTML whatever went wrong before its
 * route ran (the public rate limit, an address no route takes): never the
 * API's JSON on a phone.
 */
export const pageErrorsAsHtml: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  const status = c.res.status;
  if (status < 400 || !c.res.headers.get("content-type")?.startsWith("application/json")) return;
  const retryAfter = c.res.headers.get("retry-after");
  const page = await errorPage(status);
  // Replacing c.res keeps the old answer's headers: none of the JSON's may carry over to the page.
  for (const name of [...c.res.headers.keys()]) c.res.headers.delete(name);
  c.res = new Response(page.html, {
    status,
    headers: {
      "content-type": "text/html; charset=UTF-8",
      "content-security-policy": contentSecurityPolicy(page.css, page.scripted),
      "cache-control": "no-store",
      "x-frame-options": "DENY",
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
      ...(retryAfter ? { "retry-after": retryAfter } : {}),
    },
  });
};

/** A code with a stray slash after it (a link copied with one) goes to the code's page. */
export const stripPageSlash: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.path.endsWith("/") && (c.req.method === "GET" || c.req.method === "HEAD")) {
    const url = new URL(c.req.url);
    url.pathname = url.pathname.replace(/\/+$/, "");
    return c.redirect(url.toString(), 301);
  }
  await next();
};

/** The pages may not be framed (DENY, plus frame-ancestors in the CSP), sniffed or leak the URL as a referrer. */
verify.use("/r/*", secureHeaders({ xFrameOptions: "DENY", referrerPolicy: "no-referrer" }));

function sendPage(c: Ctx, page: Page, status: ContentfulStatusCode) {
  c.header("Content-Security-Policy", contentSecurityPolicy(page.css, page.scripted));
  return c.html(page.html, status);
}

/** Errors the page explains itself; anything else is the API's 500. */
const PAGE_ERRORS = new Set([400, 404, 503]);

/**
 * The signed QR the receipt was printed with (deterministic), or the bare
 * address: without a key, and for a receipt that does not verify (the gateway
 * never signs what its log contradicts).
 */
async function printedQr(c: Ctx, pageUrl: string, r: Verification["receipt"]): Promise<string> {
  const keys = await certKeys(c.env).catch(() => null);
  if (!keys || r.status !== "valid") return pageUrl;
  return signedQrOf(keys, pageUrl, {
    code: r.code,
    receivedAt: r.receivedAt,
    currency: r.currency,
    total: r.total,
    hash: r.hash,
  });
}

verify.openapi(receiptPageRoute(maybeEdgeCache), async (c) => {
  try {
    const verification = await verifyCode(c, c.req.valid("param").code);
    const signer = await primarySigner(c.env.LOG_SIGNING_KEY).catch(() => null);
    const { WITNESSES, WITNESS_QUORUM, VERIFIER_URL } = config(c.env);
    // Witnesses that do not parse serve no checkpoint (/healthz says why): the page then has no proof to check.
    const policy = await witnessPolicyFor(WITNESSES, WITNESS_QUORUM).catch(() => ({ witnesses: [], quorum: 0 }));
    // The lottery is extra: without Postgres the page still shows the receipt. Only a receipt that
    // verifies takes part.
    const lottery =
      verification.receipt.status !== "valid"
        ? []
        : await lotteryFor(c, verification.receipt).catch((e: unknown) => {
            logger.error({ msg: "receipt page: lottery unavailable", error: describeError(e) });
            return [];
          });
    const pageUrl = `${publicBaseUrl(c)}/r/${verification.receipt.code}`;
    const page = await receiptPage(verification, {
      pageUrl,
      qrText: await printedQr(c, pageUrl, verification.receipt),
      locale: pickLocale(c.req.header("accept-language")),
      verifierKey: signer ? verifierKeyOf(signer) : null,
      logOrigin: config(c.env).LOG_ORIGIN,
      witnesses: { vkeys: policy.witnesses.map((w) => w.vkey), quorum: policy.quorum },
      independentVerifier: VERIFIER_URL ? `${VERIFIER_URL}?code=${verification.receipt.code}` : null,
      lottery,
    });
    cacheFor(c, verification.receipt);
    c.header("Vary", "Accept-Language");
    return sendPage(c, page, 200);
  } catch (e) {
    if (!(e instanceof ApiError) || !PAGE_ERRORS.has(e.status)) throw e;
    c.header("Cache-Control", "no-store");
    if (e.retryAfter !== undefined) c.header("Retry-After", String(e.retryAfter));
    return sendPage(c, await errorPage(e.status), e.status as 400 | 404 | 503);
  }
});
