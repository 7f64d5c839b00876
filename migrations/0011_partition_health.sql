-- Hand-written. What /metrics reports about the partitions, for the Worker's
-- role (which may not read a partition directly): rows that landed in DEFAULT
-- (a day without its partition) and how many daily partitions exist ahead of today.
CREATE OR REPLACE FUNCTION tillproof_partition_health()
RETURNS TABLE (default_rows bigint, future_partitions integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
	SELECT
		(SELECT count(*) FROM public.receipts_default),
		(SELECT count(*)::integer FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		  WHERE i.inhparent = 'public.receipts'::regclass
		    AND c.relname ~ '^receipts_[0-9]{8}$'
		    AND c.relname > 'receipts_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD'))
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION tillproof_partition_health() FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION tillproof_partition_health() TO tillproof_app;
