-- Hand-written. Each day's partition is created on its own: a failure for one
-- day no longer stops the others. Rows of that day that landed in DEFAULT
-- (because its partition did not exist yet) are moved into it first; without
-- that, creating the partition fails for good and every later row lands in
-- DEFAULT. Returns one row per day it created or could not create.
DROP FUNCTION IF EXISTS tillproof_ensure_receipt_partitions(integer);
--> statement-breakpoint
CREATE FUNCTION tillproof_ensure_receipt_partitions(days_ahead integer DEFAULT 7)
RETURNS TABLE (day date, outcome text) LANGUAGE plpgsql AS $$
DECLARE
	day_start timestamptz;
	part text;
	moved integer;
BEGIN
	FOR i IN 0..days_ahead LOOP
		day_start := (date_trunc('day', now() AT TIME ZONE 'UTC') + make_interval(days => i)) AT TIME ZONE 'UTC';
		part := 'receipts_' || to_char(day_start AT TIME ZONE 'UTC', 'YYYYMMDD');
		day := (day_start AT TIME ZONE 'UTC')::date;
		CONTINUE WHEN to_regclass(part) IS NOT NULL;
		BEGIN
			-- Disabling the trigger locks DEFAULT against inserts (SHARE ROW EXCLUSIVE, held to the end
			-- of the transaction), so no row can arrive between the move and the new partition.
			ALTER TABLE receipts_default DISABLE TRIGGER receipts_append_only;
			CREATE TEMP TABLE tillproof_moving ON COMMIT DROP AS SELECT * FROM receipts_default WITH NO DATA;
			WITH gone AS (
				DELETE FROM receipts_default
				WHERE received_at >= day_start AND received_at < day_start + interval '1 day'
				RETURNING *
			)
			INSERT INTO tillproof_moving SELECT * FROM gone;
			GET DIAGNOSTICS moved = ROW_COUNT;
			ALTER TABLE receipts_default ENABLE ALWAYS TRIGGER receipts_append_only;
			EXECUTE format('CREATE TABLE %I PARTITION OF receipts FOR VALUES FROM (%L) TO (%L)',
				part, day_start, day_start + interval '1 day');
			PERFORM tillproof_guard_partition(part::regclass);
			INSERT INTO receipts SELECT * FROM tillproof_moving;
			DROP TABLE tillproof_moving;
			outcome := CASE WHEN moved > 0 THEN format('created, %s rows moved out of DEFAULT', moved) ELSE 'created' END;
		EXCEPTION WHEN OTHERS THEN
			outcome := 'failed: ' || SQLERRM;
		END;
		RETURN NEXT;
	END LOOP;
END $$;
