import { describe, expect, it } from "vitest";
import {
  afterFailure,
  eventBody,
  eventIdFor,
  MAX_RETRY_DELAY_S,
  retryDelaySeconds,
  signatureHeader,
  webhookInputSchema,
  webhookSecret,
  webhookUrlProblem,
} from "./webhooks.ts";

// Vectors computed with Python's hmac/hashlib, not with this code.
describe("signature and secret", () => {
  it("signs '<t>.<raw body>' with HMAC-SHA256, hex", () => {
    expect(signatureHeader("whsec_test", 1_700_000_000, '{"id":"evt_1"}')).toBe(
      "t=1700000000,v1=c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925",
    );
  });

  it("derives the secret from the server key and the salt alone", () => {
    const erp = { tenantId: "acme", id: "erp" };
    expect(webhookSecret("server-key", erp, "salt-1")).toBe("whsec_KNljUvGWqsbJLLkNXdC4fg2ZR2PFLZZ5EWYyXfSYX5A");
    expect(webhookSecret("server-key", erp, "salt-2")).not.toBe(webhookSecret("server-key", erp, "salt-1"));
    expect(webhookSecret("other-key", erp, "salt-1")).not.toBe(webhookSecret("server-key", erp, "salt-1"));
    // A salt copied into another tenant's or webhook's row does not give the same secret.
    const mine = webhookSecret("server-key", erp, "salt-1");
    expect(webhookSecret("server-key", { tenantId: "evil", id: "erp" }, "salt-1")).not.toBe(mine);
    expect(webhookSecret("server-key", { tenantId: "acme", id: "erp2" }, "salt-1")).not.toBe(mine);
  });

  it("gives one event id per receipt, dashes or not", () => {
    expect(eventIdFor("ABCD-EFGH-JKMN-PQRS")).toBe("evt_ABCDEFGHJKMNPQRS");
    expect(JSON.parse(eventBody("evt_X", "2026-01-01T00:00:00.000Z", { total: 1 }))).toEqual({
      id: "evt_X",
      type: "receipt.persisted",
      createdAt: "2026-01-01T00:00:00.000Z",
      data: { receipt: { total: 1 } },
    });
  });
});

describe("webhookUrlProblem", () => {
  const strict = { allowInsecure: false };
  const dev = { allowInsecure: true };

  it.each([
    "https://erp.example.com/hooks/tillproof",
    "https://erp.example.com:8443/x?y=1",
    "https://8.8.8.8/x",
    "https://[2001:4860:4860::8888]/x",
  ])("accepts the public https URL %s", (url) => {
    expect(webhookUrlProblem(url, strict)).toBeNull();
  });

  it.each([
    ["http://erp.example.com/", "must be https"],
    ["ftp://erp.example.com/", "must be https"],
    ["not a url", "must be an absolute URL"],
    ["https://user:pw@erp.example.com/", "must not carry credentials"],
    ["https://localhost/", "loopback"],
    ["https://localhost./", "loopback"],
    ["https://localhost../", "loopback"],
    ["https://198.51.100.7/", "private"],
    ["https://203.0.113.9/", "private"],
    ["https://[2001:db8::1]/", "private"],
    ["https://[fec0::1]/", "private"],
    ["https://api.localhost/", "loopback"],
    ["https://127.0.0.1/", "loopback"],
    ["https://127.9.9.9/", "loopback"],
    ["https://2130706433/", "loopback"],
    ["https://0x7f.1/", "loopback"],
    ["https://[::1]/", "loopback"],
    ["https://[::ffff:127.0.0.1]/", "loopback"],
    ["https://10.1.2.3/", "private"],
    ["https://172.16.0.1/", "private"],
    ["https://172.31.255.255/", "private"],
    ["https://192.168.1.1/", "private"],
    ["https://169.254.169.254/latest/meta-data", "private"],
    ["https://100.64.0.1/", "private"],
    ["https://0.0.0.0/", "private"],
    ["https://[::ffff:10.0.0.1]/", "private"],
    ["https://[fd00::1]/", "private"],
    ["https://[fe80::1]/", "private"],
    ["https://[::]/", "private"],
    ["https://erp/", "private"],
    ["https://erp.corp/", "private"],
    ["https://printer.local/", "private"],
    ["https://metadata.google.internal/", "private"],
    [`https://example.com/${"a".repeat(2100)}`, "at most"],
  ])("refuses %s", (url, reason) => {
    expect(webhookUrlProblem(url, strict)).toContain(reason);
  });

  it("allows loopback, and http only to loopback, with ALLOW_INSECURE_WEBHOOKS=on", () => {
    expect(webhookUrlProblem("http://127.0.0.1:9000/hook", dev)).toBeNull();
    expect(webhookUrlProblem("http://localhost:9000/hook", dev)).toBeNull();
    expect(webhookUrlProblem("http://[::1]:9000/hook", dev)).toBeNull();
    expect(webhookUrlProblem("https://127.0.0.1/hook", dev)).toBeNull();
    expect(webhookUrlProblem("http://erp.example.com/", dev)).toContain("only to loopback");
    expect(webhookUrlProblem("http://10.0.0.1/", dev)).toContain("only to loopback");
    expect(webhookUrlProblem("https://10.0.0.1/", dev)).toContain("private");
  });
});

describe("webhookInputSchema", () => {
  it("takes known events once, and store ids as slugs", () => {
    expect(webhookInputSchema.safeParse({ url: "https://x.example", events: ["receipt.persisted"] }).success).toBe(
      true,
    );
    expect(webhookInputSchema.safeParse({ url: "https://x.example", events: [] }).success).toBe(false);
    expect(webhookInputSchema.safeParse({ url: "https://x.example", events: ["receipt.deleted"] }).success).toBe(false);
    const twice = { url: "https://x.example", events: ["receipt.persisted", "receipt.persisted"] };
    expect(webhookInputSchema.safeParse(twice).success).toBe(false);
    const store = { url: "https://x.example", events: ["receipt.persisted"], storeIds: ["Berlin 1"] };
    expect(webhookInputSchema.safeParse(store).success).toBe(false);
    const extra = { url: "https://x.example", events: ["receipt.persisted"], secret: "mine" };
    expect(webhookInputSchema.safeParse(extra).success).toBe(false);
  });
});

describe("retry schedule", () => {
  it("doubles from the base, jittered ±20 %, capped at an hour", () => {
    expect(retryDelaySeconds(1, 30, 0.5)).toBe(30);
    expect(retryDelaySeconds(2, 30, 0.5)).toBe(60);
    expect(retryDelaySeconds(5, 30, 0.5)).toBe(480);
    expect(retryDelaySeconds(50, 30, 0.5)).toBe(MAX_RETRY_DELAY_S);
    expect(retryDelaySeconds(1, 30, 0)).toBe(24);
    expect(retryDelaySeconds(1, 30, 0.999_999)).toBe(36);
    expect(retryDelaySeconds(1, 1, 0)).toBe(1);
  });

  it("keeps retrying for at least 24 hours before giving up", () => {
    let age = 0;
    let attempts = 0;
    // Worst case: every wait at its shortest.
    while (afterFailure(age, 86_400) === "pending") {
      attempts += 1;
      age += retryDelaySeconds(attempts, 30, 0);
    }
    expect(age).toBeGreaterThanOrEqual(86_400);
    // Within the queue's 100 retries.
    expect(attempts).toBeLessThan(100);
  });
});
