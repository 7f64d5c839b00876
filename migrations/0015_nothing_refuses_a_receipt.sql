-- Hand-written. Nothing a tenant can say may stop receipts (issue: reliability).
--
-- 1. The time zones Postgres knows, as a table the consumer joins: a store whose
--    zone Postgres does not know (set before the Worker checked, or dropped by a
--    later tzdata) is counted in UTC instead of failing the INSERT for ever. The
--    Worker accepts only names in migrations/time-zones.json, which a test checks
--    against pg_timezone_names.
CREATE TABLE time_zones (name text PRIMARY KEY);
--> statement-breakpoint
INSERT INTO time_zones SELECT DISTINCT name FROM pg_timezone_names ON CONFLICT DO NOTHING;
--> statement-breakpoint
GRANT SELECT ON time_zones TO tillproof_app;
--> statement-breakpoint
-- The daily cron keeps it equal to what this server knows (a Postgres upgrade may bring a tzdata
-- that drops a name): the Worker's role runs it with the owner's rights, and nothing else.
CREATE FUNCTION tillproof_refresh_time_zones() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n integer;
BEGIN
	DELETE FROM time_zones WHERE name NOT IN (SELECT name FROM pg_timezone_names);
	INSERT INTO time_zones SELECT DISTINCT name FROM pg_timezone_names ON CONFLICT DO NOTHING;
	SELECT count(*) INTO n FROM time_zones;
	RETURN n;
END $$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION tillproof_refresh_time_zones() FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION tillproof_refresh_time_zones() TO tillproof_app;
--> statement-breakpoint
-- 2. Rollup sums that cannot overflow: numeric has no upper bound a store could reach.
ALTER TABLE sales_rollup
	ALTER COLUMN receipts TYPE numeric, ALTER COLUMN gross TYPE numeric, ALTER COLUMN cash TYPE numeric,
	ALTER COLUMN card TYPE numeric, ALTER COLUMN other TYPE numeric;
--> statement-breakpoint
ALTER TABLE tax_rollup ALTER COLUMN receipts TYPE numeric, ALTER COLUMN gross TYPE numeric;
--> statement-breakpoint
ALTER TABLE item_rollup ALTER COLUMN revenue TYPE numeric, ALTER COLUMN receipts TYPE numeric;
--> statement-breakpoint
-- 3. A receipt Postgres still refuses is kept here, exactly as its shard hashed it,
--    with the reason, instead of holding its batch (and in the end its shard's
--    ring) back. Verify still finds it here and checks it against the log; the
--    operator sees it on /ops, /metrics and in the alerts, and re-inserts it once
--    the cause is mended (README: Operations).
CREATE TABLE quarantined_receipts (
	shard integer NOT NULL,
	counter bigint NOT NULL,
	code text NOT NULL,
	hash text NOT NULL,
	record text NOT NULL,
	reason text NOT NULL,
	sqlstate text,
	quarantined_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (shard, counter)
);
--> statement-breakpoint
CREATE INDEX quarantined_receipts_code ON quarantined_receipts (code);
--> statement-breakpoint
GRANT SELECT, INSERT ON quarantined_receipts TO tillproof_app;
