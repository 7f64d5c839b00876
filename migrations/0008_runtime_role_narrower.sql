-- Hand-written. Narrower rights for the Worker's role: no DELETE on tenants or
-- stores (it never deletes them); nobody but the owner creates objects in
-- public (PostgreSQL 15+ already says so; older servers did not), so nothing can
-- shadow what the owner's SECURITY DEFINER cron uses; and the cron itself names
-- its temporary table by schema and bounds how far ahead it may go.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
--> statement-breakpoint
REVOKE DELETE ON tenants, stores FROM tillproof_app;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION tillproof_ensure_receipt_partitions(days_ahead integer DEFAULT 7)
RETURNS TABLE (day date, outcome text) LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	day_start timestamptz;
	part text;
	moved integer;
BEGIN
	-- The Worker calls this with the owner's rights: a bounded job, whatever it asks for.
	FOR i IN 0..least(greatest(days_ahead, 0), 31) LOOP
		day_start := (date_trunc('day', now() AT TIME ZONE 'UTC') + make_interval(days => i)) AT TIME ZONE 'UTC';
		part := 'receipts_' || to_char(day_start AT TIME ZONE 'UTC', 'YYYYMMDD');
		day := (day_start AT TIME ZONE 'UTC')::date;
		CONTINUE WHEN to_regclass(part) IS NOT NULL;
		BEGIN
			-- Disabling the trigger locks DEFAULT against inserts (SHARE ROW EXCLUSIVE, held to the end
			-- of the transaction), so no row can arrive between the move and the new partition.
			ALTER TABLE receipts_default DISABLE TRIGGER receipts_append_only;
			CREATE TEMP TABLE tillproof_moving ON COMMIT DROP AS SELECT * FROM public.receipts_default WITH NO DATA;
			WITH gone AS (
				DELETE FROM receipts_default
				WHERE received_at >= day_start AND received_at < day_start + interval '1 day'
				RETURNING *
			)
			INSERT INTO pg_temp.tillproof_moving SELECT * FROM gone;
			GET DIAGNOSTICS moved = ROW_COUNT;
			ALTER TABLE receipts_default ENABLE ALWAYS TRIGGER receipts_append_only;
			EXECUTE format('CREATE TABLE %I PARTITION OF receipts FOR VALUES FROM (%L) TO (%L)',
				part, day_start, day_start + interval '1 day');
			PERFORM tillproof_guard_partition(part::regclass);
			INSERT INTO public.receipts SELECT * FROM pg_temp.tillproof_moving;
			DROP TABLE pg_temp.tillproof_moving;
			outcome := CASE WHEN moved > 0 THEN format('created, %s rows moved out of DEFAULT', moved) ELSE 'created' END;
		EXCEPTION WHEN OTHERS THEN
			outcome := 'failed: ' || SQLERRM;
		END;
		RETURN NEXT;
	END LOOP;
END $$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION tillproof_ensure_receipt_partitions(integer) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION tillproof_ensure_receipt_partitions(integer) TO tillproof_app;
