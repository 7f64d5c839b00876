/** The verify edge cache: persisted answers are served from the colo's cache for their max-age. */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../../workers/index.ts";
import { call, eventually, fixture, issue, sale, tamper, useShardBand } from "./helpers.ts";

useShardBand(4);

/** GET through the app with the cache switched on (the suite runs with it off). */
async function cachedGet(path: string, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const res = await app.request(`https://tillproof.test${path}`, { headers }, { ...env, VERIFY_EDGE_CACHE: "on" }, ctx);
  const body = (await res.json()) as { status: string; persisted: boolean };
  await waitOnExecutionContext(ctx);
  return { res, body };
}

describe("verify edge cache", () => {
  it("serves a persisted answer from cache until it expires, and never caches an unpersisted one", async () => {
    const f = await fixture();
    const { body: issued } = await issue(f.token, sale());

    const early = await cachedGet(`/v1/verify/${issued.code}`);
    expect(early.body.persisted).toBe(false);
    expect(early.res.headers.get("cache-control")).toBe("no-store");

    await eventually(async () => {
      const r = await call<{ persisted: boolean }>("GET", `/v1/verify/${issued.code}`);
      return r.body.persisted ? true : null;
    });
    const first = await cachedGet(`/v1/verify/${issued.code}`);
    expect(first.body).toMatchObject({ status: "valid", persisted: true });

    await tamper(issued.code, "total = total + 1");
    // The cached copy still says valid (the documented 30 s window); the origin already knows.
    expect((await cachedGet(`/v1/verify/${issued.code}`)).body.status).toBe("valid");
    // One entry per receipt: another spelling of the code or a query string does not reach the origin.
    const variant = `/v1/verify/${issued.code.replaceAll("-", "").toLowerCase().replaceAll("0", "o")}?nocache=${Date.now()}`;
    expect((await cachedGet(variant)).body.status).toBe("valid");
    // Nor does a header: another language, or any Authorization.
    for (const headers of [{ "accept-language": "de;q=0.7" }, { authorization: "Bearer anything" }] as Record<
      string,
      string
    >[]) {
      expect((await cachedGet(`/v1/verify/${issued.code}`, headers)).body.status).toBe("valid");
    }
    // A malformed code is the client's mistake, cache or not.
    const ctx = createExecutionContext();
    const bad = await app.request("https://tillproof.test/v1/verify/%25", {}, { ...env, VERIFY_EDGE_CACHE: "on" }, ctx);
    expect(bad.status).toBe(400);
    expect((await call<{ status: string }>("GET", `/v1/verify/${issued.code}`)).body.status).toBe("tampered");
  });
});
