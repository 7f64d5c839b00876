-- Hand-written: drizzle cannot express partitioning or triggers.

-- Receipts are range-partitioned by received_at (the server's clock, so a new
-- receipt always lands in the current month). Recreated here: 0000 made it empty.
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
-- Catches anything outside the created months, so an insert never fails for want of a partition.
CREATE TABLE "receipts_default" PARTITION OF "receipts" DEFAULT;
--> statement-breakpoint
-- Creates the monthly partitions from this month to `months_ahead` months on.
-- Run by the Worker's cron trigger; safe to run any number of times.
CREATE OR REPLACE FUNCTION tillproof_ensure_receipt_partitions(months_ahead integer DEFAULT 3)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	month_start timestamptz;
	part text;
	created integer := 0;
BEGIN
	FOR i IN 0..months_ahead LOOP
		month_start := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i)) AT TIME ZONE 'UTC';
		part := 'receipts_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYY_MM');
		IF to_regclass(part) IS NULL THEN
			EXECUTE format('CREATE TABLE %I PARTITION OF receipts FOR VALUES FROM (%L) TO (%L)',
				part, month_start, month_start + interval '1 month');
			created := created + 1;
		END IF;
	END LOOP;
	RETURN created;
END $$;
--> statement-breakpoint
SELECT tillproof_ensure_receipt_partitions(3);
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
