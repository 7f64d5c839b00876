/**
 * The shard's own SQLite schema, as numbered steps. Live objects keep their
 * storage across deploys, so a step never changes once shipped: add a new one.
 * `meta.schema` records how many have run.
 *
 * Rows written are what a shard pays for, so receipts carry no secondary
 * index: the outbox is a counter watermark over the primary key, and the
 * predecessor is found by `prev_counter`.
 */
export const SCHEMA_STEPS: string[] = [
  `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);

CREATE TABLE IF NOT EXISTS stores (
  tenant_id TEXT NOT NULL,
  store_id TEXT NOT NULL,
  name TEXT NOT NULL,
  timezone TEXT NOT NULL,
  seq INTEGER NOT NULL,
  head_hash TEXT NOT NULL,
  PRIMARY KEY (tenant_id, store_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS terminals (
  token_hash TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  store_id TEXT NOT NULL,
  terminal_id TEXT NOT NULL,
  revoked_at INTEGER,
  UNIQUE (tenant_id, store_id, terminal_id)
);

CREATE TABLE IF NOT EXISTS receipts (
  counter INTEGER PRIMARY KEY,
  code TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  store_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  record TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  enqueued_at INTEGER
);

CREATE TABLE IF NOT EXISTS idempotency (
  terminal TEXT NOT NULL,
  key TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  response TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (terminal, key)
) WITHOUT ROWID;
`,
  // 2: the outbox becomes a watermark (meta.sent_up_to); enqueued_at now only
  // marks a re-send. Each store remembers its head's counter so a receipt can
  // point at its predecessor. The secondary indexes go: each cost a row written
  // per receipt.
  `
ALTER TABLE receipts ADD COLUMN prev_counter INTEGER;
ALTER TABLE stores ADD COLUMN head_counter INTEGER;
DROP INDEX IF EXISTS receipts_outbox;
DROP INDEX IF EXISTS receipts_store_seq;
DROP INDEX IF EXISTS idempotency_age;
INSERT INTO meta (k, v) SELECT 'sent_up_to', v FROM meta WHERE k = 'enqueued'
  ON CONFLICT (k) DO NOTHING;
DELETE FROM meta WHERE k IN ('enqueued', 'counter', 'persisted', 'messages');
`,
  // 3: the transparency log. log_head is the one row every receipt rewrites:
  // size, right edge and the unfilled bottom tile. Upper unfilled tiles change
  // once per 256 leaves; full tiles wait in log_pending until R2 has them.
  `
CREATE TABLE IF NOT EXISTS log_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  size INTEGER NOT NULL,
  edge BLOB NOT NULL,
  tail BLOB NOT NULL,
  last_received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log_partial (level INTEGER PRIMARY KEY, hashes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS log_pending (
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hashes BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_checkpoint (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  size INTEGER NOT NULL,
  note TEXT NOT NULL,
  signed_at INTEGER NOT NULL
);
`,
  // 4: tenants the operator disabled (their terminals are refused until re-enabled).
  `
CREATE TABLE IF NOT EXISTS disabled_tenants (tenant_id TEXT PRIMARY KEY) WITHOUT ROWID;
`,
  // 5: group commit (docs/scale.md §12). A commit writes one row, a slot of a
  // ring of batches, holding its receipts, their idempotency keys and the
  // log's head; slots are overwritten, never deleted. Idempotency keys go to
  // sorted runs of pages every few minutes; store heads go back to \`stores\`
  // then. \`receipts\`, \`idempotency\` and \`log_head\` are only read, to carry
  // over what a shard held before this step.
  `
CREATE TABLE IF NOT EXISTS batches (
  slot INTEGER PRIMARY KEY,
  batch_no INTEGER NOT NULL,
  first_counter INTEGER NOT NULL,
  count INTEGER NOT NULL,
  log_size INTEGER NOT NULL,
  log_edge BLOB NOT NULL,
  log_tail BLOB NOT NULL,
  last_received_at INTEGER NOT NULL,
  entries TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idem_runs (run INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, fps BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS idem_pages (
  run INTEGER NOT NULL,
  first INTEGER NOT NULL,
  entries TEXT NOT NULL,
  PRIMARY KEY (run, first)
) WITHOUT ROWID;
`,
  // 6: the receipt lottery. For each draw's close, the log's size when the
  // first receipt stamped at or after it was committed (null: not yet).
  `
CREATE TABLE IF NOT EXISTS lottery_cuts (closes_at INTEGER PRIMARY KEY, size INTEGER) WITHOUT ROWID;
`,
  // 7: refunds and voids (docs/refunds.md). Each original that was ever
  // refunded or voided has one ledger row here, on its own shard: what it
  // allows and every hold on it (JSON, core/refunds.ts); \`due\` is when a
  // reserved hold times out (indexed only while set). \`refund_sagas\` holds,
  // on the refund's shard, each refund issued whose original's ledger has not
  // confirmed it yet.
  `
CREATE TABLE IF NOT EXISTS refund_ledger (counter INTEGER PRIMARY KEY, ledger TEXT NOT NULL, due INTEGER);
CREATE INDEX IF NOT EXISTS refund_ledger_due ON refund_ledger (due) WHERE due IS NOT NULL;
CREATE TABLE IF NOT EXISTS refund_sagas (hold TEXT PRIMARY KEY, confirm TEXT NOT NULL) WITHOUT ROWID;
`,
  // 8: offline receipts (docs/offline.md). A terminal's Ed25519 key, if it
  // registered one. \`offline_seqs\`: every offline receipt registered, by its
  // terminal's sequence, for ever (a replay after any time answers the same).
  // \`offline_terminals\`: per terminal that ever registered one, what the
  // operator's console shows (gaps, late receipts, the backlog it reported).
  `
ALTER TABLE terminals ADD COLUMN public_key TEXT;
CREATE TABLE IF NOT EXISTS offline_seqs (
  terminal TEXT NOT NULL,
  seq INTEGER NOT NULL,
  body_hash TEXT NOT NULL,
  counter INTEGER NOT NULL,
  PRIMARY KEY (terminal, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offline_terminals (
  terminal TEXT PRIMARY KEY,
  registered INTEGER NOT NULL,
  max_seq INTEGER NOT NULL,
  late INTEGER NOT NULL,
  last_late_at INTEGER,
  backlog INTEGER NOT NULL,
  backlog_since INTEGER,
  reported_at INTEGER
) WITHOUT ROWID;
`,
  // 9: witnessed checkpoints (contract v1.2). \`log_witnessed\`: checkpoints
  // that met the witness quorum, with the cosignatures, by size: the latest
  // few, and those kept for good (one an hour, a draw's close).
  // \`witness_refusals\`: per witness and status, the refusals counted and the last.
  `
CREATE TABLE IF NOT EXISTS log_witnessed (
  size INTEGER PRIMARY KEY,
  note TEXT NOT NULL,
  witnessed_at INTEGER NOT NULL,
  kept INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS witness_refusals (
  witness TEXT NOT NULL,
  status INTEGER NOT NULL,
  count INTEGER NOT NULL,
  size INTEGER NOT NULL,
  at INTEGER NOT NULL,
  detail TEXT NOT NULL,
  PRIMARY KEY (witness, status)
) WITHOUT ROWID;
`,
];

/** Runs the steps this object has not run yet. */
export function migrate(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
  const done = sql.exec<{ v: number }>("SELECT v FROM meta WHERE k = 'schema'").toArray()[0]?.v ?? 0;
  for (let step = done; step < SCHEMA_STEPS.length; step++) {
    sql.exec(SCHEMA_STEPS[step] as string);
    sql.exec("INSERT INTO meta (k, v) VALUES ('schema', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", step + 1);
  }
}
