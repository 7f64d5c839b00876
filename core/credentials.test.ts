import { describe, expect, it } from "vitest";
import { newTenantKey, newTerminalToken, parseTenantKey, parseTerminalToken } from "./credentials.ts";

const KEY = "unit-credential-key";

describe("credentials", () => {
  it("mints tenant keys and terminal tokens that parse back to their tenant and shard", () => {
    const key = newTenantKey(KEY, "acme");
    expect(key).toMatch(/^tpk_acme_[A-Za-z0-9_-]{43}$/);
    expect(parseTenantKey(KEY, key)).toEqual({ tenantId: "acme" });
    const token = newTerminalToken(KEY, 517);
    expect(token).toMatch(/^tpt_517_[A-Za-z0-9_-]{43}$/);
    expect(parseTerminalToken(KEY, token)).toEqual({ shard: 517 });
  });

  it("rejects forged secrets, moved routing parts, another server's key and one flipped character", () => {
    const token = newTerminalToken(KEY, 5);
    expect(parseTerminalToken(KEY, `tpt_5_${"A".repeat(43)}`)).toBeNull();
    expect(parseTerminalToken(KEY, token.replace("tpt_5_", "tpt_6_"))).toBeNull();
    expect(parseTerminalToken("another-server", token)).toBeNull();
    const flipped = token.slice(0, -1) + (token.endsWith("A") ? "B" : "A");
    expect(parseTerminalToken(KEY, flipped)).toBeNull();
    const key = newTenantKey(KEY, "acme");
    expect(parseTenantKey(KEY, key.replace("tpk_acme_", "tpk_other_"))).toBeNull();
    expect(parseTenantKey(KEY, newTerminalToken(KEY, 1))).toBeNull();
    expect(parseTerminalToken(KEY, `tpt_05_${token.slice(-43)}`)).toBeNull();
  });

  it("accepts one spelling of a secret only: not one that differs in the last character's spare bits", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (let i = 0; i < 50; i++) {
      const token = newTerminalToken(KEY, 5);
      const last = alphabet.indexOf(token.at(-1) ?? "A");
      // 43 characters carry 258 bits for 256: the last one's low two bits decode to nothing.
      const twin = token.slice(0, -1) + alphabet[last ^ 1];
      expect(Buffer.from(twin.slice(-43), "base64url")).toEqual(Buffer.from(token.slice(-43), "base64url"));
      expect(parseTerminalToken(KEY, twin)).toBeNull();
      expect(parseTerminalToken(KEY, token)).toEqual({ shard: 5 });
    }
  });

  it("accepts untagged credentials from before tags only when asked to (a migration)", () => {
    const old = `tpt_5_${"A".repeat(43)}`;
    expect(parseTerminalToken(KEY, old)).toBeNull();
    expect(parseTerminalToken(KEY, old, { legacy: true })).toEqual({ shard: 5 });
    expect(parseTenantKey(KEY, `tpk_acme_${"B".repeat(43)}`, { legacy: true })).toEqual({ tenantId: "acme" });
  });
});
