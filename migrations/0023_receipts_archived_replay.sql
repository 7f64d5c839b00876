-- Hand-written. A receipt whose day was archived and dropped (docs/archive.md) is not inserted
-- again: a queue message replayed long after (a dead letter replayed weeks later) would otherwise
-- land in DEFAULT, a second copy beside the archived one. Only rows routed to DEFAULT are looked
-- at (their day has no partition), so the hot path pays nothing. A row the archive does not hold
-- (a receipt that never reached Postgres before its day left) still lands in DEFAULT, where its
-- alert names it: a receipt that was given a code is never lost.
CREATE FUNCTION tillproof_code_route(code text, OUT shard integer, OUT counter bigint)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v numeric := 0;
	bits integer := CASE length(code) WHEN 20 THEN 47 WHEN 16 THEN 30 END;
BEGIN
	-- Crockford base32, most significant first; the last 40 bits are the check (core/code.ts).
	IF bits IS NULL THEN RETURN; END IF;
	FOR i IN 1..length(code) LOOP
		v := v * 32 + (strpos('0123456789ABCDEFGHJKMNPQRSTVWXYZ', substr(code, i, 1)) - 1);
	END LOOP;
	v := trunc(v / 2::numeric ^ 40);
	shard := trunc(v / 2::numeric ^ bits);
	counter := v - shard * 2::numeric ^ bits;
END $$;
--> statement-breakpoint
CREATE FUNCTION tillproof_receipts_archived_replay() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
	r record := tillproof_code_route(NEW.code);
BEGIN
	IF EXISTS (SELECT 1 FROM archive_objects o JOIN archive_days d ON d.day = o.day AND d.state = 'dropped'
	            WHERE o.day = (NEW.received_at AT TIME ZONE 'UTC')::date
	              AND o.shard = r.shard AND r.counter BETWEEN o.first_counter AND o.last_counter) THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END $$;
--> statement-breakpoint
-- Named to fire before receipts_unique_keys (alphabetical order): a skipped row claims no key.
CREATE TRIGGER receipts_archived_replay BEFORE INSERT ON receipts_default
	FOR EACH ROW EXECUTE FUNCTION tillproof_receipts_archived_replay();
--> statement-breakpoint
ALTER TABLE receipts_default ENABLE ALWAYS TRIGGER receipts_archived_replay;
