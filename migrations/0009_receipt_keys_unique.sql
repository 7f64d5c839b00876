-- Hand-written. Postgres itself refuses a second receipt with a code it already
-- holds, or a second (tenant, store, seq): a reset shard or a second deployment
-- reissuing codes fails loudly instead of silently. A partitioned table cannot
-- carry a unique index without the partition key, so a side table does, kept by
-- a trigger the Worker's role cannot bypass (SECURITY DEFINER: it has no rights
-- on the side table itself). The same receipt again (a redelivery, or the cron
-- moving a row out of DEFAULT) is let through; receipts' own primary key
-- drops a redelivered copy.
CREATE TABLE IF NOT EXISTS receipt_keys (
	code varchar(20) PRIMARY KEY,
	tenant_id text NOT NULL,
	store_id text NOT NULL,
	seq bigint NOT NULL,
	received_at timestamptz NOT NULL,
	UNIQUE (tenant_id, store_id, seq)
);
--> statement-breakpoint
REVOKE ALL ON receipt_keys FROM PUBLIC;
--> statement-breakpoint
INSERT INTO receipt_keys (code, tenant_id, store_id, seq, received_at)
SELECT code, tenant_id, store_id, seq, received_at FROM receipts ORDER BY received_at
ON CONFLICT DO NOTHING;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION tillproof_unique_receipt_keys() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	k public.receipt_keys%ROWTYPE;
BEGIN
	INSERT INTO public.receipt_keys (code, tenant_id, store_id, seq, received_at)
	VALUES (NEW.code, NEW.tenant_id, NEW.store_id, NEW.seq, NEW.received_at)
	ON CONFLICT DO NOTHING;
	IF FOUND THEN
		RETURN NEW;
	END IF;
	SELECT * INTO k FROM public.receipt_keys WHERE code = NEW.code;
	IF FOUND AND k.tenant_id = NEW.tenant_id AND k.store_id = NEW.store_id AND k.seq = NEW.seq
		AND k.received_at = NEW.received_at THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'receipt % (tenant %, store %, seq %) would duplicate a code or a seq Postgres already holds',
		NEW.code, NEW.tenant_id, NEW.store_id, NEW.seq USING ERRCODE = 'unique_violation';
END $$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION tillproof_unique_receipt_keys() FROM PUBLIC;
--> statement-breakpoint
DROP TRIGGER IF EXISTS receipts_unique_keys ON receipts;
--> statement-breakpoint
CREATE TRIGGER receipts_unique_keys BEFORE INSERT ON receipts
	FOR EACH ROW EXECUTE FUNCTION tillproof_unique_receipt_keys();
--> statement-breakpoint
ALTER TABLE receipts ENABLE ALWAYS TRIGGER receipts_unique_keys;
--> statement-breakpoint
-- Partitions carry a clone of the trigger; each is made to fire ALWAYS too, now and as days are created.
CREATE OR REPLACE FUNCTION tillproof_guard_partition(part regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = part AND tgname = 'receipts_no_truncate') THEN
		EXECUTE format('CREATE TRIGGER receipts_no_truncate BEFORE TRUNCATE ON %s
			FOR EACH STATEMENT EXECUTE FUNCTION tillproof_refuse_change()', part);
	END IF;
	EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER receipts_no_truncate', part);
	IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = part AND tgname = 'receipts_unique_keys') THEN
		EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER receipts_unique_keys', part);
	END IF;
END $$;
--> statement-breakpoint
SELECT tillproof_guard_partition(inhrelid::regclass) FROM pg_inherits WHERE inhparent = 'receipts'::regclass;
