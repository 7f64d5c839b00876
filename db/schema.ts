/**
 * The Postgres schema, as drizzle sees it. migrations/ is generated from this
 * (npm run db:generate); hand-written SQL for what drizzle cannot express
 * (partitioning, the append-only trigger) lives in custom migrations.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  char,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  varchar,
} from "drizzle-orm/pg-core";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const tenants = pgTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** SHA-256 of the tenant key; the key itself is shown once and never stored. */
  apiKeyHash: char("api_key_hash", { length: 64 }).notNull(),
  createdAt: ts("created_at").notNull().default(sql`now()`),
  /** Set by the operator: every key and terminal of the tenant is refused until it is cleared. */
  disabledAt: ts("disabled_at"),
});

export const stores = pgTable(
  "stores",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    id: text("id").notNull(),
    name: text("name").notNull(),
    address: text("address"),
    timezone: text("timezone").notNull(),
    /** Fixed when the store is created: a store never moves shard. */
    shard: integer("shard").notNull(),
    createdAt: ts("created_at").notNull().default(sql`now()`),
    updatedAt: ts("updated_at").notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
);

export const terminals = pgTable(
  "terminals",
  {
    tenantId: text("tenant_id").notNull(),
    storeId: text("store_id").notNull(),
    id: text("id").notNull(),
    label: text("label"),
    tokenHash: char("token_hash", { length: 64 }).notNull().unique(),
    createdAt: ts("created_at").notNull().default(sql`now()`),
    revokedAt: ts("revoked_at"),
    /** v1.2: the terminal's Ed25519 key (base64, as sent) and its certificate's end, for offline receipts. */
    publicKey: text("public_key"),
    certNotAfter: ts("cert_not_after"),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.storeId, t.id] })],
);

/** Every administrative change, append-only (migrations/0010: a trigger refuses UPDATE, DELETE and TRUNCATE). */
export const adminAudit = pgTable(
  "admin_audit",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    tenantId: text("tenant_id").notNull(),
    at: ts("at").notNull().default(sql`now()`),
    /** "operator", or "tenant key <first 8 hex of its hash>". */
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    target: text("target"),
    detail: jsonb("detail"),
  },
  (t) => [index("admin_audit_tenant_id").on(t.tenantId, t.id)],
);

/**
 * Append-only (a trigger refuses UPDATE and DELETE). Every column but
 * persisted_at is part of the hashed record, so `hash` can be recomputed from a row. No foreign keys: this is
 * the hot write path, and the shard has already checked the store and terminal.
 */
export const receipts = pgTable(
  "receipts",
  {
    /** 20 characters, or 16 for codes issued before v1.1 (told apart by length). */
    code: varchar("code", { length: 20 }).notNull(),
    receivedAt: ts("received_at").notNull(),
    tenantId: text("tenant_id").notNull(),
    storeId: text("store_id").notNull(),
    terminalId: text("terminal_id").notNull(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    issuedAt: ts("issued_at").notNull(),
    currency: char("currency", { length: 3 }).notNull(),
    total: bigint("total", { mode: "number" }).notNull(),
    cashier: text("cashier"),
    items: jsonb("items").notNull(),
    payments: jsonb("payments").notNull(),
    hash: char("hash", { length: 64 }).notNull(),
    prevHash: char("prev_hash", { length: 64 }).notNull(),
    /** v1.2: sale, refund or void; NULL on receipts issued before (sales, hashed without the field). */
    kind: text("kind"),
    /** v1.2: a refund's or void's original (ungrouped code). */
    refersTo: varchar("refers_to", { length: 20 }),
    reason: text("reason"),
    /** v1.2: an offline receipt's terminalSeq, signedAt and signature, as the record hashed them. */
    offline: jsonb("offline"),
    /** v1.2: set (true) only on an offline receipt registered late. */
    late: boolean("late"),
    /** When the row landed (not hashed): receivedAt → persistedAt is the pipeline's lag. */
    persistedAt: ts("persisted_at").notNull().default(sql`clock_timestamp()`),
  },
  (t) => [
    primaryKey({ columns: [t.code, t.receivedAt] }),
    index("receipts_store_seq").on(t.tenantId, t.storeId, t.seq),
  ],
);
