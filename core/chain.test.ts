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

  it("accepts an intact chain whose hashes are the log's leaves", () => {
    expect(chainStatus(a.record, a.hash, a.hash, null)).toBe("valid");
    expect(chainStatus(b.record, b.hash, b.hash, a.hash)).toBe("valid");
  });

  it("flags a changed field", () => {
    expect(chainStatus({ ...b.record, total: 301 }, b.hash, b.hash, a.hash)).toBe("tampered");
  });

  it("flags a record rewritten with its own hash: the log's leaf disagrees", () => {
    const forged = { ...a.record, total: 999 };
    expect(chainStatus(forged, canonicalHash(forged), a.hash, null)).toBe("tampered");
    // Without the log at hand, only the link can tell (here it cannot: seq 1 links to genesis).
    expect(chainStatus(forged, canonicalHash(forged), null, null)).toBe("valid");
  });

  it("flags a record rewritten with a matching hash but a broken link", () => {
    const forged = { ...b.record, prevHash: "f".repeat(64) };
    expect(chainStatus(forged, canonicalHash(forged), null, a.hash)).toBe("tampered");
  });

  it("judges a record whose predecessor is not at hand by itself and the log", () => {
    expect(chainStatus(b.record, b.hash, b.hash, null)).toBe("valid");
    const first = { ...a.record, prevHash: "1".repeat(64) };
    expect(chainStatus(first, canonicalHash(first), null, null)).toBe("tampered");
  });
});
