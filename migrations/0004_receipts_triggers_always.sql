-- Hand-written. The append-only triggers fire whatever session_replication_role
-- says (ENABLE ALWAYS), and TRUNCATE is refused on every partition, not only on
-- the parent (a partition's TRUNCATE does not fire the parent's trigger).
CREATE OR REPLACE FUNCTION tillproof_guard_partition(part regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = part AND tgname = 'receipts_no_truncate') THEN
		EXECUTE format('CREATE TRIGGER receipts_no_truncate BEFORE TRUNCATE ON %s
			FOR EACH STATEMENT EXECUTE FUNCTION tillproof_refuse_change()', part);
	END IF;
	EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER receipts_no_truncate', part);
END $$;
--> statement-breakpoint
ALTER TABLE "receipts" ENABLE ALWAYS TRIGGER "receipts_append_only";
--> statement-breakpoint
ALTER TABLE "receipts" ENABLE ALWAYS TRIGGER "receipts_no_truncate";
--> statement-breakpoint
SELECT tillproof_guard_partition(inhrelid::regclass) FROM pg_inherits WHERE inhparent = 'receipts'::regclass;
--> statement-breakpoint
-- New daily partitions get the guard as they are created.
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
			PERFORM tillproof_guard_partition(part::regclass);
			created := created + 1;
		END IF;
	END LOOP;
	RETURN created;
END $$;
