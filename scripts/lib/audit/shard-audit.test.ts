import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../core/canonical.ts";
import { encodeCode } from "../../../core/code.ts";
import { buildRecord, GENESIS_HASH, parseReceipt } from "../../../core/receipt.ts";
import type { RecordRow } from "../../../db/receipts.ts";
import { sha256Hex } from "../../../kit/crypto.ts";
import { edgeRoot, fromHex, type Hash } from "../../../tlog/merkle.ts";
import { appendLeaves, emptyLog } from "../../../tlog/tiles.ts";
import { auditShard } from "./shard-audit.ts";

const KEY = "audit-unit-key";
const input = parseReceipt(
  {
    issuedAt: "2026-11-21T10:15:00Z",
    currency: "EUR",
    items: [{ name: "Tea", quantity: 1, unitPrice: 300, total: 300 }],
    total: 300,
    payments: [{ method: "cash", amount: 300 }],
  },
  Date.now(),
);

/** A shard of `n` genuine receipts of one store: its rows and its signed log. */
function shard(n: number) {
  const rows: RecordRow[] = [];
  let prev = GENESIS_HASH;
  for (let counter = 1; counter <= n; counter++) {
    const record = buildRecord({
      input,
      code: encodeCode(KEY, { shard: 0, counter }),
      tenantId: "t",
      storeId: "s",
      terminalId: "x",
      seq: counter,
      receivedAt: 1_700_000_000_000 + counter,
      prevHash: prev,
    });
    const hash = sha256Hex(canonicalJson(record));
    rows.push({
      code: record.code,
      received_ms: String(1_700_000_000_000 + counter),
      tenant_id: "t",
      store_id: "s",
      terminal_id: "x",
      seq: String(counter),
      issued_ms: String(Date.parse(record.issuedAt)),
      currency: "EUR",
      total: "300",
      cashier: null,
      kind: "sale",
      refers_to: null,
      offline: null,
      late: null,
      reason: null,
      items: record.items,
      payments: record.payments,
      hash,
      prev_hash: prev,
    });
    prev = hash;
  }
  const { state } = appendLeaves(
    emptyLog(),
    rows.map((r) => fromHex(r.hash)),
  );
  return { rows, state };
}

async function* from(rows: RecordRow[]) {
  yield* rows;
}

function run(n: number, keep: (r: RecordRow, i: number) => boolean, recheck: (c: number[]) => Promise<Set<number>>) {
  const { rows, state } = shard(n);
  return auditShard({
    shard: 0,
    signed: { size: state.size, root: edgeRoot(state.edge) },
    rows: from(rows.filter(keep)),
    tiles: async (_level, _index, width) => (state.partial[0] as Hash[]).slice(0, width),
    codeOf: (counter) => encodeCode(KEY, { shard: 0, counter }),
    codeIsGenuine: () => true,
    signedBefore: 0,
    recheck,
  });
}

describe("auditShard", () => {
  it("passes an intact shard", async () => {
    expect(
      (
        await run(
          10,
          () => true,
          async () => new Set(),
        )
      ).problems,
    ).toEqual([]);
  });

  it("reports a missing leaf, unless it arrived when looked at again (it was on its way)", async () => {
    const gone = await run(
      10,
      (_, i) => i !== 9,
      async () => new Set(),
    );
    expect(gone.problems.map((p) => p.kind)).toEqual(["missing"]);
    expect(gone.problems[0]?.code).toMatch(/^\S{20} \(shard 0 entry 9\)$/);
    const landed = await run(
      10,
      (_, i) => i !== 9,
      async (c) => new Set(c),
    );
    expect(landed.problems).toEqual([]);
  });
});
