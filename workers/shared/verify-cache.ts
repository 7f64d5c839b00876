/**
 * The edge cache (Cache API) in front of verify's two reads. It stores only
 * what verify marks public (persisted answers), so a code is answered from
 * the colo for up to 30 s without touching Postgres. Its key is the code
 * alone (and, for the page, the language): no request header or query string
 * can make a second entry or skip it.
 *
 * A sale's answer changes when it is refunded or voided. Ingest then leaves a
 * mark for the sale's code in the same colo's cache, and any entry for that
 * code cached before the mark is passed over, so the shop that gave the
 * refund sees it at once; other colos within the 30 s (README "VERIFY_EDGE_CACHE").
 */
import type { MiddlewareHandler } from "hono";
import { pickLocale } from "../../kit/format.ts";
import type { AppEnv, Ctx } from "../http.ts";

const CACHE = "tillproof-verify";
const CACHED_AT = "x-tillproof-cached-at";

/** A code in its compact form, whatever its case, dashes or read-alikes (path parameters arrive decoded). */
const compact = (code: string) => code.replace(/[-\s]/g, "").toUpperCase().replace(/O/g, "0").replace(/[IL]/g, "1");

function cacheKey(c: Ctx): string {
  const url = new URL(c.req.url);
  const code = compact(c.req.param("code") ?? "");
  const page = url.pathname.startsWith("/r/");
  return `${url.origin}/${page ? `r/${pickLocale(c.req.header("accept-language"))}` : "v1/verify"}/${encodeURIComponent(code)}`;
}

const markKey = (origin: string, code: string) => `${origin}/changed/${encodeURIComponent(compact(code))}`;

export const edgeCache: MiddlewareHandler<AppEnv> = async (c, next) => {
  const store = await caches.open(CACHE);
  const key = new Request(cacheKey(c));
  const [hit, mark] = await Promise.all([
    store.match(key),
    store.match(new Request(markKey(new URL(c.req.url).origin, c.req.param("code") ?? ""))),
  ]);
  const cachedAt = Number(hit?.headers.get(CACHED_AT) ?? 0);
  if (hit && !(mark && Number(mark.headers.get(CACHED_AT)) >= cachedAt)) return new Response(hit.body, hit);
  await next();
  if (c.res.status === 200 && c.res.headers.get("cache-control")?.startsWith("public")) {
    const copy = new Response(c.res.clone().body, c.res);
    copy.headers.set(CACHED_AT, String(Date.now()));
    c.executionCtx.waitUntil(store.put(key, copy));
  }
};

/** The receipt `code` changed (refunded, voided): this colo's cached answers for it are passed over. */
export async function markChanged(origin: string, code: string): Promise<void> {
  const store = await caches.open(CACHE);
  const mark = new Response("changed", {
    headers: { "cache-control": "public, max-age=60", [CACHED_AT]: String(Date.now()) },
  });
  await store.put(new Request(markKey(origin, code)), mark);
}
