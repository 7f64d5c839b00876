-- Hand-written. The archive (#27): days older than HOT_DAYS go to R2 as
-- Parquet (workers/archive/), one object per shard, day and part. Postgres
-- keeps where each went (one row per object: a code's shard and counter lead
-- to its object with no scan) and each day's state. A day's partition is
-- dropped only through tillproof_drop_archived_day, with the owner's rights.
CREATE TABLE archive_days (
	day date PRIMARY KEY,
	state text NOT NULL CHECK (state IN ('writing', 'verified', 'dropped', 'failed')),
	rows bigint,
	manifest_sha256 char(64),
	detail text,
	updated_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
CREATE TABLE archive_objects (
	day date NOT NULL,
	shard integer NOT NULL,
	part integer NOT NULL,
	key text NOT NULL,
	rows integer NOT NULL CHECK (rows > 0),
	first_counter bigint NOT NULL,
	last_counter bigint NOT NULL CHECK (last_counter >= first_counter),
	-- Where the next part of the shard's day starts (a resumed run goes on from here).
	last_code text NOT NULL,
	sha256 char(64) NOT NULL,
	bytes bigint NOT NULL,
	PRIMARY KEY (day, shard, part)
);
--> statement-breakpoint
CREATE INDEX archive_objects_by_counter ON archive_objects (shard, last_counter);
--> statement-breakpoint
-- The Worker records objects and states; it never deletes where a receipt went.
GRANT SELECT, INSERT, UPDATE ON archive_days TO tillproof_app;
--> statement-breakpoint
GRANT SELECT, INSERT ON archive_objects TO tillproof_app;
--> statement-breakpoint
-- Drops a day's partition once its archive was read back and checked
-- (state 'verified'), and only if the archive holds as many rows as the
-- partition, counted under a lock that keeps any late row out until the drop.
-- Returns the rows dropped (0: already gone). How old a day must be is the
-- Worker's HOT_DAYS (0 archives today: tests and demos only).
CREATE FUNCTION tillproof_drop_archived_day(d date) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	part text := 'receipts_' || to_char(d, 'YYYYMMDD');
	day_state text;
	held bigint;
	archived bigint;
BEGIN
	SELECT state INTO day_state FROM archive_days WHERE day = d FOR UPDATE;
	IF day_state = 'dropped' OR (day_state = 'verified' AND to_regclass(part) IS NULL) THEN
		UPDATE archive_days SET state = 'dropped', updated_at = now() WHERE day = d;
		RETURN 0;
	END IF;
	IF day_state IS DISTINCT FROM 'verified' THEN
		RAISE EXCEPTION 'day % is not verified (state %)', d, coalesce(day_state, 'none');
	END IF;
	EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', part);
	EXECUTE format('SELECT count(*) FROM %I', part) INTO held;
	SELECT coalesce(sum(rows), 0) INTO archived FROM archive_objects WHERE day = d;
	IF held <> archived THEN
		RAISE EXCEPTION 'day %: % rows in Postgres, % archived', d, held, archived;
	END IF;
	EXECUTE format('ALTER TABLE receipts DETACH PARTITION %I', part);
	EXECUTE format('DROP TABLE %I', part);
	UPDATE archive_days SET state = 'dropped', updated_at = now() WHERE day = d;
	RETURN held;
END $$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION tillproof_drop_archived_day(date) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION tillproof_drop_archived_day(date) TO tillproof_app;
--> statement-breakpoint
-- A failed day starts over from Postgres (which still holds it): its object
-- rows go, and the next run writes every object again from the rows as they
-- are now. Only for a day that failed and still has its partition.
CREATE FUNCTION tillproof_archive_restart(d date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM archive_days WHERE day = d AND state = 'failed' FOR UPDATE) THEN
		RAISE EXCEPTION 'day % has not failed', d;
	END IF;
	IF to_regclass('receipts_' || to_char(d, 'YYYYMMDD')) IS NULL THEN
		RAISE EXCEPTION 'day % is no longer in Postgres', d;
	END IF;
	DELETE FROM archive_objects WHERE day = d;
	UPDATE archive_days SET state = 'writing', detail = NULL, updated_at = now() WHERE day = d;
END $$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION tillproof_archive_restart(date) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION tillproof_archive_restart(date) TO tillproof_app;
