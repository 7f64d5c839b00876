/** White-label tenants: branding API, tenant isolation, key rotation, and the branded receipt page. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encodeCode, groupCode } from "../../core/code.ts";
import {
  call,
  eventually,
  type Fixture,
  fixture,
  issue,
  issuePersisted,
  OPERATOR_TOKEN,
  sale,
  tamper,
  useShardBand,
} from "./helpers.ts";

useShardBand(8);

type BrandingBody = { branding: Record<string, unknown> };

const brand = { displayName: "ACME Coffee", primaryColor: "#0A7CFF" };
const XSS_ITEM = "<img src=x onerror=alert(1)>";

const putBranding = (f: Fixture, body: unknown) =>
  call<BrandingBody>("PUT", `/v1/tenants/${f.tenantId}/branding`, { token: f.apiKey, body });

async function sha256Base64(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

describe("branding API", () => {
  it("serves neutral defaults under the tenant's name before any PUT", async () => {
    const f = await fixture();
    const expected = { displayName: `Tenant ${f.tenantId}`, primaryColor: "#1f2937", updatedAt: null };
    const own = await call<BrandingBody>("GET", `/v1/tenants/${f.tenantId}/branding`, { token: f.apiKey });
    expect(own.status).toBe(200);
    expect(own.body.branding).toEqual(expected);
    const pub = await call<BrandingBody>("GET", `/v1/branding/${f.tenantId}`);
    expect(pub.status).toBe(200);
    expect(pub.body.branding).toEqual(expected);
  });

  it("stores a PUT, normalized, and the same Worker location reads it back at once", async () => {
    const f = await fixture();
    const put = await putBranding(f, {
      ...brand,
      accentColor: "#FFD400",
      logoUrl: "https://cdn.example.com/acme.svg",
      supportUrl: "https://acme.example/help",
      receiptFooter: "Thank you!\nOpen daily 7–19.",
    });
    expect(put.status).toBe(200);
    expect(put.body.branding).toEqual({
      displayName: "ACME Coffee",
      primaryColor: "#0a7cff",
      accentColor: "#ffd400",
      logoUrl: "https://cdn.example.com/acme.svg",
      supportUrl: "https://acme.example/help",
      receiptFooter: "Thank you!\nOpen daily 7–19.",
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    const own = await call<BrandingBody>("GET", `/v1/tenants/${f.tenantId}/branding`, { token: f.apiKey });
    expect(own.body).toEqual(put.body);
    expect((await call<BrandingBody>("GET", `/v1/branding/${f.tenantId}`)).body).toEqual(put.body);

    // A PUT replaces the whole branding: what it omits is cleared.
    const again = await putBranding(f, brand);
    expect(Object.keys(again.body.branding).sort()).toEqual(["displayName", "primaryColor", "updatedAt"]);
  });

  it("answers the public read with a strong ETag, 304 on a match, and a new tag after a change", async () => {
    const f = await fixture();
    await putBranding(f, brand);
    const first = await call("GET", `/v1/branding/${f.tenantId}`);
    const tag = first.headers.get("etag");
    expect(tag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(first.headers.get("cache-control")).toBe("public, max-age=60");

    const same = await call("GET", `/v1/branding/${f.tenantId}`, { headers: { "if-none-match": tag! } });
    expect(same.status).toBe(304);
    expect(same.text).toBe("");
    expect(same.headers.get("etag")).toBe(tag);
    expect(same.headers.get("cache-control")).toBe("public, max-age=60");
    const listed = await call("GET", `/v1/branding/${f.tenantId}`, {
      headers: { "if-none-match": `"nope", W/${tag}` },
    });
    expect(listed.status).toBe(304);
    const other = await call("GET", `/v1/branding/${f.tenantId}`, { headers: { "if-none-match": '"nope"' } });
    expect(other.status).toBe(200);

    await putBranding(f, { ...brand, primaryColor: "#111111" });
    const changed = await call("GET", `/v1/branding/${f.tenantId}`, { headers: { "if-none-match": tag! } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(tag);
  });

  it("404s an unknown tenant and 400s a malformed id on the public read", async () => {
    const unknown = await call<{ error: { code: string } }>("GET", "/v1/branding/no-such-tenant");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("not_found");
    const bad = await call<{ error: { code: string } }>("GET", "/v1/branding/Not_A_Slug");
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_id");
  });

  const tooLongUrl = `https://example.com/${"a".repeat(2040)}`;
  it.each([
    ["an http logo", { ...brand, logoUrl: "http://cdn.example.com/logo.png" }, "logoUrl"],
    ["a javascript: support link", { ...brand, supportUrl: "javascript:alert(1)" }, "supportUrl"],
    ["a data: logo", { ...brand, logoUrl: "data:image/svg+xml,<svg/>" }, "logoUrl"],
    ["a URL over 2048 characters", { ...brand, logoUrl: tooLongUrl }, "logoUrl"],
    ["a 3-digit colour", { ...brand, primaryColor: "#fff" }, "primaryColor"],
    ["a named accent colour", { ...brand, accentColor: "red" }, "accentColor"],
    ["CSS in a colour", { ...brand, primaryColor: "#000000;background:url(x)" }, "primaryColor"],
    ["an unknown field", { ...brand, fontFamily: "Comic Sans MS" }, ""],
    ["a footer over 280 characters", { ...brand, receiptFooter: "x".repeat(281) }, "receiptFooter"],
    ["no displayName", { primaryColor: "#000000" }, "displayName"],
    ["a blank displayName", { ...brand, displayName: "  " }, "displayName"],
    ["a displayName over 100 characters", { ...brand, displayName: "x".repeat(101) }, "displayName"],
    ["no primaryColor", { displayName: "ACME" }, "primaryColor"],
    ["an array", [brand], ""],
  ])("refuses %s with 400 validation_failed", async (_, body, path) => {
    const f = await fixture();
    const res = await call<{ error: { code: string; details: { path: string }[] } }>(
      "PUT",
      `/v1/tenants/${f.tenantId}/branding`,
      { token: f.apiKey, body },
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(res.body.error.details.map((d) => d.path)).toContain(path);
    // Nothing was stored.
    const after = await call<BrandingBody>("GET", `/v1/branding/${f.tenantId}`);
    expect(after.body.branding.updatedAt).toBeNull();
  });

  it("refuses a body that is not JSON (415) or does not parse (400)", async () => {
    const f = await fixture();
    const path = `/v1/tenants/${f.tenantId}/branding`;
    const form = await call<{ error: { code: string } }>("PUT", path, {
      token: f.apiKey,
      raw: "displayName=ACME",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe("unsupported_media_type");
    const broken = await call<{ error: { code: string } }>("PUT", path, {
      token: f.apiKey,
      raw: '{"displayName":',
      headers: { "content-type": "application/json" },
    });
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe("invalid_json");
  });
});

describe("tenant isolation, route by route", () => {
  it("gives another tenant's key 403 and no key 401 on every tenant route, and changes nothing", async () => {
    const a = await fixture();
    const b = await fixture();
    const routes: [string, string, unknown?][] = [
      ["PUT", `/v1/tenants/${b.tenantId}/stores/${b.storeId}`, { name: "Hijacked", timezone: "UTC" }],
      ["POST", `/v1/tenants/${b.tenantId}/stores/${b.storeId}/terminals`, { id: "till-evil" }],
      ["DELETE", `/v1/tenants/${b.tenantId}/stores/${b.storeId}/terminals/${b.terminalId}`],
      ["PUT", `/v1/tenants/${b.tenantId}/branding`, brand],
      ["GET", `/v1/tenants/${b.tenantId}/branding`],
      ["POST", `/v1/tenants/${b.tenantId}/keys`],
    ];
    for (const [method, path, body] of routes) {
      const opts = body === undefined ? {} : { body };
      const foreign = await call<{ error: { code: string } }>(method, path, { ...opts, token: a.apiKey });
      expect([method, path, foreign.status, foreign.body?.error.code]).toEqual([method, path, 403, "forbidden"]);
      const anonymous = await call<{ error: { code: string } }>(method, path, opts);
      expect([method, path, anonymous.status, anonymous.body?.error.code]).toEqual([method, path, 401, "unauthorized"]);
      const operator = await call(method, path, { ...opts, token: OPERATOR_TOKEN });
      expect([method, path, operator.status]).toEqual([method, path, 401]);
    }
    // B is untouched: its terminal still issues, its key still works, its branding is the default.
    expect((await issue(b.token, sale())).status).toBe(201);
    const own = await call<BrandingBody>("GET", `/v1/tenants/${b.tenantId}/branding`, { token: b.apiKey });
    expect(own.status).toBe(200);
    expect(own.body.branding.updatedAt).toBeNull();
  });
});

describe("tenant key rotation", () => {
  it("issues a new key; the old one stops at once, the new one works", async () => {
    const f = await fixture();
    const rotated = await call<{ apiKey: string }>("POST", `/v1/tenants/${f.tenantId}/keys`, { token: f.apiKey });
    expect(rotated.status).toBe(201);
    expect(rotated.body.apiKey).toMatch(new RegExp(`^tpk_${f.tenantId}_[A-Za-z0-9_-]{43}$`));
    expect(rotated.body.apiKey).not.toBe(f.apiKey);

    const path = `/v1/tenants/${f.tenantId}/branding`;
    const old = await call<{ error: { code: string } }>("GET", path, { token: f.apiKey });
    expect(old.status).toBe(401);
    expect(old.body.error.code).toBe("unauthorized");
    expect((await call("POST", `/v1/tenants/${f.tenantId}/keys`, { token: f.apiKey })).status).toBe(401);
    expect((await call("GET", path, { token: rotated.body.apiKey })).status).toBe(200);
    const store = await call("PUT", `/v1/tenants/${f.tenantId}/stores/${f.storeId}`, {
      token: rotated.body.apiKey,
      body: { name: "Main Street", timezone: "Europe/Berlin" },
    });
    expect(store.status).toBe(200);
    // Terminals are not tied to the tenant key.
    expect((await issue(f.token, sale())).status).toBe(201);
  });

  it("lets exactly one of two concurrent rotations with the same key win (compare and swap)", async () => {
    const f = await fixture();
    const rotate = () => call<{ apiKey?: string }>("POST", `/v1/tenants/${f.tenantId}/keys`, { token: f.apiKey });
    const results = await Promise.all([rotate(), rotate(), rotate()]);
    const won = results.filter((r) => r.status === 201);
    expect(won).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 201)) expect([401, 409]).toContain(r.status);
    // The key the winner was given is the one that works.
    const path = `/v1/tenants/${f.tenantId}/branding`;
    expect((await call("GET", path, { token: won[0]?.body.apiKey })).status).toBe(200);
  });
});

describe("receipt page", () => {
  const xssSale = () =>
    sale({
      items: [
        { name: XSS_ITEM, quantity: 2, unitPrice: 250, taxRate: 10, total: 500 },
        { name: "Croissant", quantity: 1, unitPrice: 180, total: 180 },
      ],
    });

  it("renders the branded receipt, escaped, with a strict CSP", async () => {
    const f = await fixture();
    await putBranding(f, {
      displayName: "ACME <b>Coffee</b>",
      primaryColor: "#0A7CFF",
      receiptFooter: "</style><script>alert(1)</script>",
      supportUrl: "https://acme.example/help?a=1&b=2",
    });
    const issued = await issue(f.token, xssSale());
    const page = await call("GET", `/r/${issued.body.code}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html; charset=utf-8/i);
    expect(page.text.startsWith('<!DOCTYPE html><html lang="en">')).toBe(true);

    const csp = page.headers.get("content-security-policy") ?? "";
    for (const directive of [
      "default-src 'none'",
      "img-src https: data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toContain("unsafe");
    expect(csp).not.toContain("script-src");
    const style = /<style>([\s\S]*?)<\/style>/.exec(page.text)?.[1] ?? "";
    expect(csp).toContain(`style-src 'sha256-${await sha256Base64(style)}'`);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("vary")).toContain("Accept-Language");

    // Branding: colour in the stylesheet, the name escaped in the header.
    expect(style).toContain("--brand:#0a7cff");
    expect(style).toContain("--on-brand:#000000");
    expect(page.text).toContain("ACME &lt;b&gt;Coffee&lt;/b&gt;");
    // Hostile strings are text, never markup.
    expect(page.text).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(page.text).not.toContain("<img src=x");
    expect(page.text).toContain("&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(page.text).not.toContain("<script");
    expect(page.text).toContain('href="https://acme.example/help?a=1&amp;b=2"');

    // The receipt itself, in the store's zone (Europe/Berlin: 09:15Z is 10:15).
    expect(page.text).toContain("Verified");
    expect(page.text).toContain("Main Street");
    expect(page.text).toMatch(/Nov 21, 2026, 10:15\s(AM|am)/);
    expect(page.text).toContain("€6.80");
    expect(page.text).toContain("€5.00");
    expect(page.text).toContain("Card");
    expect(page.text).toContain(issued.body.code);
    expect(page.text).toMatch(/<svg[^>]*viewBox/);
    expect(page.text).toContain("<details>");
    expect(page.text).toContain(issued.body.hash.slice(0, 12));
  });

  it("says 'storage pending' while unpersisted (no-store) and 'Verified' once persisted (cacheable)", async () => {
    const f = await fixture();
    const issued = await issue(f.token, sale());
    const early = await call("GET", `/r/${issued.body.code}`);
    // The consumer may already have run; both states are correct, each with its own cache policy.
    if (early.headers.get("cache-control") === "no-store") {
      expect(early.text).toContain("Verified — storage pending");
    }
    await eventually(async () => {
      const r = await call<{ persisted: boolean }>("GET", `/v1/verify/${issued.body.code}`);
      return r.body.persisted ? true : null;
    });
    const late = await call("GET", `/r/${issued.body.code}`);
    // 30 s in all, no stale serving after it (README: VERIFY_EDGE_CACHE): a row changed shows within 30 s.
    expect(late.headers.get("cache-control")).toBe("public, max-age=30");
    expect(late.text).toContain(">Verified<");
    expect(late.text).not.toContain("storage pending");
  });

  it("formats for the reader's locale and shows times on the store's current clock", async () => {
    const f = await fixture();
    const issued = await issuePersisted(f.token);
    const de = await call("GET", `/r/${issued.code}`, { headers: { "accept-language": "de-DE,de;q=0.9" } });
    expect(de.text.replace(/\u00a0/g, " ")).toContain("6,80 €");
    await call("PUT", `/v1/tenants/${f.tenantId}/stores/${f.storeId}`, {
      token: f.apiKey,
      body: { name: "Main Street", timezone: "Asia/Tokyo" },
    });
    const tokyo = await call("GET", `/r/${issued.code}`);
    expect(tokyo.text).toMatch(/Nov 21, 2026, 06:15\s(PM|pm)/);
  });

  it("uses the branding's displayName in the verify JSON too", async () => {
    const f = await fixture();
    await putBranding(f, brand);
    const issued = await issue(f.token, sale());
    const v = await call<{ tenant: { id: string; displayName: string } }>("GET", `/v1/verify/${issued.body.code}`);
    expect(v.body.tenant).toEqual({ id: f.tenantId, displayName: "ACME Coffee" });
  });

  it("shows TAMPERED when the stored row was edited", async () => {
    const f = await fixture();
    await putBranding(f, brand);
    const issued = await issuePersisted(f.token);
    await tamper(issued.code, "total = total + 100");
    const page = await call("GET", `/r/${issued.code}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('role="alert"');
    expect(page.text).toContain("TAMPERED");
    expect(page.text).toContain("Do not trust this receipt.");
    expect(page.text).not.toContain(">Verified<");
  });

  it("answers a malformed code with a neutral 400 page", async () => {
    const page = await call("GET", "/r/NOT-A-CODE");
    expect(page.status).toBe(400);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.text).toContain("Not a valid receipt code");
    expect(page.text).toContain("--brand:#1f2937");
  });

  it("answers a well-formed but never issued code with a neutral 404 page", async () => {
    const code = groupCode(encodeCode("test-code-key", { shard: 0, counter: 999_999 }));
    const page = await call("GET", `/r/${code}`);
    expect(page.status).toBe(404);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.text).toContain("Receipt not found");
    expect(page.text).not.toContain(code); // nothing from the request is echoed
  });
});

describe("defaults once KV is complete", () => {
  it("serves a tenant that never set branding its defaults, and 404s an unknown one", async () => {
    const f = await fixture();
    // What the daily cron's backfill leaves: every tenant seeded, KV marked complete.
    await env.BRANDING.put("meta:branding-complete", new Date().toISOString());
    const res = await call<BrandingBody>("GET", `/v1/branding/${f.tenantId}`);
    expect(res.status).toBe(200);
    expect(res.body.branding).toMatchObject({ displayName: `Tenant ${f.tenantId}`, updatedAt: null });
    expect((await call("GET", "/v1/branding/no-such-tenant-here")).status).toBe(404);
  });
});
