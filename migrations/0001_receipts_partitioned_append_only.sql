-- Hand-written: drizzle cannot express partitioning or triggers.

-- Receipts are range-partitioned by received_at (the server's clock, so a new
-- receipt always lands in today's partition). Recreated here: 0000 made it empty.
DROP TABLE "receipts";
--> statement-breakpoint
CREATE TABLE "receipts" (
	"code" char(16) NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"tenant_id" text NOT NULL,
	"store_id" text NOT NULL,
	"terminal_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"issued_at" timestamp with time zone NOT NULL,
	"currency" char(3) NOT NULL,
	"total" bigint NOT NULL,
	"cashier" text,
	"items" jsonb NOT NULL,
	"payments" jsonb NOT NULL,
	"hash" char(64) NOT NULL,
	"prev_hash" char(64) NOT NULL,
	CONSTRAINT "receipts_code_received_at_pk" PRIMARY KEY("code","received_at")
) PARTITION BY RANGE ("received_at");
--> statement-breakpoint
CREATE INDEX "receipts_store_seq" ON "receipts" USING btree ("tenant_id","store_id","seq");
--> statement-breakpoint
-- Catches anything outside the created days, so an insert never fails for want of a partition.
CREATE TABLE "receipts_default" PARTITION OF "receipts" DEFAULT;
--> statement-breakpoint
-- Creates daily partitions (docs/scale.md §6: a day at full volume is ~1.5e9
-- rows; retention drops whole days) from today to `days_ahead` days on.
-- Run daily by the Worker's cron trigger; safe to run any number of times.
CREATE OR REPLACE FUNCTION tillproof_ensure_receipt_partitions(days_ahead integer DEFAULT 7)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	day_start timestamptz;
	part text;
	created integer := 0;
BEGIN
	FOR i IN 0..days_ahead LOOP
		day_start := (date_trunc('day', now() AT TIME ZONE 'UTC') + make_interval(days => i)) AT TIME ZONE 'UTC';
		part := 'receipts_' || to_char(day_start AT TIME ZONE 'UTC', 'YYYYMMDD');
		IF to_regclass(part) IS NULL THEN
			EXECUTE format('CREATE TABLE %I PARTITION OF receipts FOR VALUES FROM (%L) TO (%L)',
				part, day_start, day_start + interval '1 day');
			created := created + 1;
		END IF;
	END LOOP;
	RETURN created;
END $$;
--> statement-breakpoint
SELECT tillproof_ensure_receipt_partitions(7);
--> statement-breakpoint
-- The ledger is append-only. (A superuser can still disable triggers: that is
-- what the hash chain is for.)
CREATE OR REPLACE FUNCTION tillproof_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'receipts are append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
--> statement-breakpoint
CREATE TRIGGER "receipts_append_only" BEFORE UPDATE OR DELETE ON "receipts"
	FOR EACH ROW EXECUTE FUNCTION tillproof_refuse_change();
--> statement-breakpoint
CREATE TRIGGER "receipts_no_truncate" BEFORE TRUNCATE ON "receipts"
	FOR EACH STATEMENT EXECUTE FUNCTION tillproof_refuse_change();
