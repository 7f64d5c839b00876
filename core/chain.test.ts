import { describe, expect, it } from "vitest";
import { canonicalHash } from "./canonical.ts";
import { chainStatus } from "./chain.ts";
import { buildRecord, GENESIS_HASH, type ReceiptInput } from "./receipt.ts";

const input: ReceiptInput = {
  issuedAt: "2026-11-21T10:15:00Z",
  currency: "EUR",
  items: [{ name: "Tea", quantity: 1, unitPrice: 300, total: 300 }],
  total: 300,
  payments: [{ method: "cash", amount: 300 }],
};

function chain(n: number) {
  const out = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const record = buildRecord({
      input,
      code: `CODE${seq}`,
      tenantId: "t",
      storeId: "s",
      terminalId: "x",
      seq,
      receivedAt: 0,
      prevHash: prev,
    });
    prev = canonicalHash(record);
    out.push({ record, hash: prev });
  }
  return out;
}

describe("chainStatus", () => {
  const [a, b] = chain(2) as [ReturnType<typeof chain>[0], ReturnType<typeof chain>[0]];

  it("accepts an intact chain", () => {
    expect(chainStatus(a.record, a.hash, null)).toBe("valid");
    expect(chainStatus(b.record, b.hash, a.hash)).toBe("valid");
  });

  it("flags a changed field", () => {
    expect(chainStatus({ ...b.record, total: 301 }, b.hash, a.hash)).toBe("tampered");
  });

  it("flags a record rewritten with a matching hash but a broken link", () => {
    const forged = { ...b.record, prevHash: "f".repeat(64) };
    expect(chainStatus(forged, canonicalHash(forged), a.hash)).toBe("tampered");
  });

  it("flags a record rewritten with its own hash when the next link disagrees", () => {
    const forged = { ...a.record, total: 999 };
    expect(chainStatus(forged, canonicalHash(forged), null, b.record.prevHash)).toBe("tampered");
    expect(chainStatus(a.record, a.hash, null, b.record.prevHash)).toBe("valid");
  });

  it("flags a missing predecessor and a first record not linked to genesis", () => {
    expect(chainStatus(b.record, b.hash, null)).toBe("tampered");
    const first = { ...a.record, prevHash: "1".repeat(64) };
    expect(chainStatus(first, canonicalHash(first), null)).toBe("tampered");
  });
});
