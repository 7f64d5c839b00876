/**
 * `npm run bench:archive`: what one archive object costs (docs/archive.md).
 * A full part (20,000 realistic receipts of one shard and day) is encoded as
 * Parquet and read back; the baseline, in the same run, is the records'
 * canonical JSON (what the shard hashed and Postgres stores). Prints bytes
 * per receipt and time per receipt as ratios to the baseline, the read-back
 * check's time (decode and hash every record), and what one lookup by
 * counter reads of the object.
 *
 *   npm run bench:archive                 # 3 rounds
 *   npm run bench:archive -- --rounds 5
 */
import { parseArgs } from "node:util";
import {
  type ArchivedReceipt,
  decodeRows,
  encodeObject,
  findInObject,
  PART_ROWS,
  readFooter,
} from "../core/archive.ts";
import { canonicalHash, canonicalJson } from "../core/canonical.ts";
import { encodeCode } from "../core/code.ts";
import { buildRecord, GENESIS_HASH, parseReceipt } from "../core/receipt.ts";
import { makeSale, rng } from "./lib/bench/receipts.ts";

const { values: args } = parseArgs({ options: { rounds: { type: "string", default: "3" } } });

function part(seed: number): ArchivedReceipt[] {
  const r = rng(seed);
  const now = Date.UTC(2026, 10, 30, 12);
  let prevHash = GENESIS_HASH;
  return Array.from({ length: PART_ROWS }, (_, i) => {
    const record = buildRecord({
      input: parseReceipt(makeSale(r, now - 60_000), now),
      code: encodeCode("bench-archive", { shard: 42, counter: 1_000_001 + i }),
      tenantId: `t${i % 7}`,
      storeId: `s${i % 40}`,
      terminalId: `till-${i % 3}`,
      seq: 1 + Math.floor(i / 40),
      receivedAt: now + i,
      prevHash,
    });
    prevHash = canonicalHash(record);
    return { counter: 1_000_001 + i, record, hash: prevHash };
  });
}

const ms = (f: () => unknown) => {
  const t = performance.now();
  f();
  return performance.now() - t;
};

async function main() {
  const rows = part(7);
  const n = rows.length;
  const sums = { json: 0, encode: 0, check: 0 };
  let jsonBytes = 0;
  let buf = new ArrayBuffer(0);
  for (let round = 0; round < Number(args.rounds); round++) {
    sums.json += ms(() => {
      jsonBytes = rows.reduce((b, x) => b + Buffer.byteLength(canonicalJson(x.record)), 0);
    });
    sums.encode += ms(() => {
      buf = encodeObject(rows);
    });
    const t = performance.now();
    const back = await decodeRows({ byteLength: buf.byteLength, slice: (s, e) => buf.slice(s, e) });
    if (back.some((x) => canonicalHash(x.record) !== x.hash)) throw new Error("a record did not come back as hashed");
    sums.check += performance.now() - t;
  }
  let read = 0;
  let reads = 0;
  const file = {
    byteLength: buf.byteLength,
    slice: (s: number, e = buf.byteLength) => {
      read += e - s;
      reads++;
      return buf.slice(s, e);
    },
  };
  const footer = await readFooter(file);
  const [footerBytes, footerReads] = [read, reads];
  read = reads = 0;
  const r = rng(3);
  const lookups = 200;
  for (let i = 0; i < lookups; i++) await findInObject(file, 1_000_001 + Math.floor(r() * n), footer);
  const per = (x: number) => (x / Number(args.rounds) / n) * 1000;
  console.log(`one part: ${n} receipts, ${args.rounds} rounds (times: µs per receipt)`);
  console.log(`  canonical JSON (baseline): ${(jsonBytes / n).toFixed(0)} B/receipt, ${per(sums.json).toFixed(1)} µs`);
  console.log(
    `  Parquet: ${(buf.byteLength / n).toFixed(0)} B/receipt (${((buf.byteLength / jsonBytes) * 100).toFixed(1)} % of JSON), encode ${per(sums.encode).toFixed(1)} µs (${(sums.encode / sums.json).toFixed(2)}× JSON)`,
  );
  console.log(
    `  read-back check (decode + hash every record): ${per(sums.check).toFixed(1)} µs (${(sums.check / sums.json).toFixed(2)}× JSON)`,
  );
  console.log(
    `  footer: ${(footerBytes / 1024).toFixed(0)} kB in ${footerReads} read(s); one lookup then reads ${(read / lookups / 1024).toFixed(1)} kB in ${(reads / lookups).toFixed(1)} range(s) of a ${(buf.byteLength / 1024 / 1024).toFixed(2)} MB object`,
  );
}

await main();
