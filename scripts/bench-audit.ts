/**
 * `npm run bench:audit [-- --receipts N --shards S]`: how long `npm run audit`
 * takes for N receipts (default 1,000,000). It fills an embedded Postgres with
 * N genuine receipts over S shards (COPY), builds each shard's log and signed
 * checkpoint with the product's own code, serves them on loopback in the
 * public API's formats (key, checkpoint, tiles), then times the audit, and
 * the audit with --rollups. The baseline, in the same run, is reading the
 * same rows in the same pages without checking anything.
 */
import { createServer } from "node:http";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { canonicalJson } from "../core/canonical.ts";
import { encodeCode } from "../core/code.ts";
import { buildRecord, GENESIS_HASH, parseReceipt } from "../core/receipt.ts";
import { sha256Hex } from "../kit/crypto.ts";
import { edgeRoot, fromHex, type Hash } from "../tlog/merkle.ts";
import { formatCheckpoint, generateSigningKey, parseSigningKey, signNote } from "../tlog/note.ts";
import { appendLeaves, emptyLog, type LogState, packHashes, parseTilePath } from "../tlog/tiles.ts";
import { runAudit } from "./audit.ts";
import { shardRows } from "./lib/audit/sources.ts";
import { copyFrom, copyText } from "./lib/bench/copy.ts";
import { applyMigrations } from "./lib/stack/migrate.ts";
import { freePort } from "./lib/stack/ports.ts";
import { startEmbeddedPostgres } from "./lib/stack/postgres.ts";

const { values } = parseArgs({ options: { receipts: { type: "string" }, shards: { type: "string" } } });
const N = Number(values.receipts ?? 1_000_000);
const SHARDS = Number(values.shards ?? 16);
const STORES = 64;
const CODE_KEY = "bench-audit-code-key";
const say = (line: string) => console.log(`[bench:audit] ${line}`);

const server = await startEmbeddedPostgres({
  dir: resolve(import.meta.dirname, "../.data/bench-audit", String(process.pid)),
  port: await freePort(),
  database: "postgres",
  ephemeral: true,
});
try {
  await applyMigrations(server.url);
  const client = new pg.Client({ connectionString: server.url });
  client.on("error", () => {}); // the server stops under it at the end
  await client.connect();
  await client.query("INSERT INTO tenants (id, name, api_key_hash) VALUES ('bench', 'Bench', repeat('0', 64))");
  for (let s = 0; s < SHARDS; s++) {
    await client.query(
      `INSERT INTO stores (tenant_id, id, name, timezone, shard)
       SELECT 'bench', 's' || $1::int || '-' || g, 'Store', 'UTC', $1::int FROM generate_series(1, ${STORES}) g`,
      [s],
    );
  }

  const t0 = Date.now();
  const input = parseReceipt(
    {
      issuedAt: "2026-11-21T10:15:00Z",
      currency: "EUR",
      items: [{ name: "Bread", sku: "B1", quantity: 1, unitPrice: 300, taxRate: 7, total: 300 }],
      total: 300,
      payments: [{ method: "cash", amount: 300 }],
    },
    Date.now(),
  );
  const logs = new Map<number, { state: LogState; full: Map<string, Hash[]> }>();
  const columns =
    "code, received_at, tenant_id, store_id, terminal_id, seq, issued_at, currency, total, cashier, items, payments, hash, prev_hash, kind";
  const now = Date.now();
  for (let s = 0; s < SHARDS; s++) {
    const count = Math.floor(N / SHARDS) + (s < N % SHARDS ? 1 : 0);
    const heads = Array.from({ length: STORES }, () => ({ seq: 0, hash: GENESIS_HASH }));
    let log = { state: emptyLog(), full: new Map<string, Hash[]>() };
    let lines: string[] = [];
    let entries: Uint8Array[] = [];
    const flush = async () => {
      await copyFrom(client, `COPY receipts (${columns}) FROM STDIN`, lines);
      const r = appendLeaves(log.state, entries);
      for (const t of r.full) log.full.set(`${t.level}/${t.index}`, t.hashes);
      log = { state: r.state, full: log.full };
      lines = [];
      entries = [];
    };
    for (let counter = 1; counter <= count; counter++) {
      const store = counter % STORES;
      const head = heads[store] as { seq: number; hash: string };
      const receivedAt = now - (count - counter);
      const record = buildRecord({
        input,
        code: encodeCode(CODE_KEY, { shard: s, counter }),
        tenantId: "bench",
        storeId: `s${s}-${store + 1}`,
        terminalId: "till",
        seq: head.seq + 1,
        receivedAt,
        prevHash: head.hash,
      });
      const hash = sha256Hex(canonicalJson(record));
      heads[store] = { seq: record.seq, hash };
      entries.push(fromHex(hash));
      lines.push(
        [
          record.code,
          record.receivedAt,
          "bench",
          record.storeId,
          "till",
          record.seq,
          record.issuedAt,
          "EUR",
          record.total,
          null,
          record.items,
          record.payments,
          hash,
          record.prevHash,
          record.kind ?? null,
        ]
          .map(copyText)
          .join("\t"),
      );
      if (lines.length === 10_000) await flush();
    }
    await flush();
    logs.set(s, log);
  }
  say(
    `${N.toLocaleString("en")} receipts over ${SHARDS} shards written and logged in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );

  // The public log API's formats, served from memory on loopback.
  const key = await generateSigningKey("bench-audit.localhost");
  const signer = await parseSigningKey(key.privateKey);
  const notes = new Map<number, string>();
  for (const [s, log] of logs) {
    const text = formatCheckpoint({
      origin: `bench-audit.localhost/log/${s}`,
      size: log.state.size,
      root: edgeRoot(log.state.edge),
    });
    notes.set(s, await signNote(text, signer));
  }
  const http = createServer((req, res) => {
    const m = /^\/v1\/log\/(\d+)\/(checkpoint|tile\/0\/(.+))$/.exec(req.url ?? "");
    if (req.url === "/v1/log/key") return res.end(`${key.verifierKey}\n`);
    if (req.url === "/v1/log/witnesses") {
      const pins = { log: { origin: "bench-audit.localhost/log", vkey: key.verifierKey }, witnesses: [], quorum: 0 };
      return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(pins));
    }
    const log = m ? logs.get(Number(m[1])) : undefined;
    if (!m || !log) return res.writeHead(404).end();
    if (m[2] === "checkpoint") return res.end(notes.get(Number(m[1])));
    const tile = parseTilePath(m[3] ?? "");
    const hashes = tile ? (log.full.get(`0/${tile.index}`) ?? log.state.partial[0] ?? []) : [];
    res.writeHead(200, { "content-type": "application/octet-stream" }).end(packHashes(hashes.slice(0, tile?.width)));
  });
  await new Promise<void>((ok) => http.listen(0, "127.0.0.1", ok));
  const address = http.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

  const pool = new pg.Pool({ connectionString: server.url, max: 2 });
  const tb = Date.now();
  let read = 0;
  for (let s = 0; s < SHARDS; s++) for await (const _ of shardRows([pool], s)) read++;
  const baseline = (Date.now() - tb) / 1000;
  await pool.end();
  say(`baseline: reading the ${read.toLocaleString("en")} rows in the audit's pages took ${baseline.toFixed(1)} s`);

  const options = { databaseUrl: server.url, url, key: key.verifierKey, codeKey: CODE_KEY, shardCount: SHARDS };
  const ta = Date.now();
  const report = await runAudit(options);
  const audit = (Date.now() - ta) / 1000;
  // The same audit with --rollups: every day recomputed from the receipts and compared.
  const tr = Date.now();
  const withRollups = await runAudit({ ...options, rollups: true });
  const rollups = (Date.now() - tr) / 1000;
  http.close();
  await client.end();
  say(
    `audit: ${report.checked.toLocaleString("en")} receipts, ${report.problems} problems, in ${audit.toFixed(1)} s ` +
      `(${Math.round(report.checked / audit).toLocaleString("en")} receipts/s) = ${(audit / baseline).toFixed(2)}× the bare read`,
  );
  say(
    `audit --rollups: ${withRollups.rollups?.receipts.toLocaleString("en")} receipts recomputed into ${withRollups.rollups?.days} store-days, ` +
      `${withRollups.problems} problems, in ${rollups.toFixed(1)} s = ${(rollups / baseline).toFixed(2)}× the bare read, ` +
      `${(rollups / audit).toFixed(2)}× the audit without it (+${(rollups - audit).toFixed(1)} s)`,
  );
  const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
  say(`peak resident memory of this process: ${rss} MiB (the generator's logs included)`);
  for (const p of [...report.shards, ...withRollups.shards].flatMap((x) => x.problems).slice(0, 3)) {
    say(`problem: ${p.kind} ${p.code} ${p.detail}`);
  }
  if (report.problems || withRollups.problems) process.exitCode = 1;
} catch (e) {
  console.error(`[bench:audit] failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  await server.stop();
}
