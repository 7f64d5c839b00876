/** The shard's own SQLite schema. Idempotent: run on every start. */
export const SCHEMA = `
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

-- Receipts not yet confirmed in Postgres. Rows with enqueued_at NULL are the outbox.
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
CREATE INDEX IF NOT EXISTS receipts_store_seq ON receipts (tenant_id, store_id, seq);

CREATE TABLE IF NOT EXISTS idempotency (
  terminal TEXT NOT NULL,
  key TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  response TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (terminal, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_age ON idempotency (created_at);
`;
