-- Hand-written. Analytics rollups (contract v1.1 "Retail analytics"). The
-- consumer keeps them in the statement that inserts receipts, from the rows
-- that statement really inserted (RETURNING of ON CONFLICT DO NOTHING), so a
-- redelivered batch adds nothing; `npm run analytics:rebuild` recomputes a
-- range of days from receipts with the same SQL (db/analytics.ts).
--
-- Rows are keyed by the UTC hour of issued_at AND the store-local day, so one
-- table answers hours (UTC) and days (store-local), also in zones whose offset
-- is not a whole hour. Every query names one tenant: the tables are split by
-- a hash of tenant_id, which needs no partition upkeep. Rows are updated in
-- place many times a day: partitions leave 30 % of each page free and no index
-- covers a counter, so the updates can stay HOT (no index write).
CREATE TABLE sales_rollup (
	tenant_id text NOT NULL,
	store_id text NOT NULL,
	currency char(3) NOT NULL,
	hour timestamptz NOT NULL,
	day date NOT NULL,
	receipts bigint NOT NULL,
	gross bigint NOT NULL,
	cash bigint NOT NULL,
	card bigint NOT NULL,
	other bigint NOT NULL,
	PRIMARY KEY (tenant_id, store_id, currency, hour, day)
) PARTITION BY HASH (tenant_id);
--> statement-breakpoint
-- Gross by tax rate ('' for items without one), and how many receipts have an item at that rate.
CREATE TABLE tax_rollup (
	tenant_id text NOT NULL,
	store_id text NOT NULL,
	currency char(3) NOT NULL,
	hour timestamptz NOT NULL,
	day date NOT NULL,
	rate text NOT NULL,
	receipts bigint NOT NULL,
	gross bigint NOT NULL,
	PRIMARY KEY (tenant_id, store_id, currency, hour, day, rate)
) PARTITION BY HASH (tenant_id);
--> statement-breakpoint
-- Per store-local day and item: the key is 's:<sku>', or 'n:<name>' for items without a sku.
CREATE TABLE item_rollup (
	tenant_id text NOT NULL,
	store_id text NOT NULL,
	currency char(3) NOT NULL,
	day date NOT NULL,
	item_key text NOT NULL,
	sku text,
	name text NOT NULL,
	quantity numeric NOT NULL,
	revenue bigint NOT NULL,
	receipts bigint NOT NULL,
	PRIMARY KEY (tenant_id, store_id, currency, day, item_key)
) PARTITION BY HASH (tenant_id);
--> statement-breakpoint
DO $$ BEGIN
	FOR i IN 0..7 LOOP
		EXECUTE format('CREATE TABLE sales_rollup_p%s PARTITION OF sales_rollup FOR VALUES WITH (MODULUS 8, REMAINDER %s) WITH (fillfactor = 70)', i, i);
		EXECUTE format('CREATE TABLE tax_rollup_p%s PARTITION OF tax_rollup FOR VALUES WITH (MODULUS 8, REMAINDER %s) WITH (fillfactor = 70)', i, i);
		EXECUTE format('CREATE TABLE item_rollup_p%s PARTITION OF item_rollup FOR VALUES WITH (MODULUS 8, REMAINDER %s) WITH (fillfactor = 70)', i, i);
	END LOOP;
END $$;
--> statement-breakpoint
-- Tenant queries filter by (tenant, day); the operator's view by day across tenants.
CREATE INDEX sales_rollup_tenant_day ON sales_rollup (tenant_id, day);
--> statement-breakpoint
CREATE INDEX sales_rollup_day ON sales_rollup (day);
--> statement-breakpoint
CREATE INDEX tax_rollup_tenant_day ON tax_rollup (tenant_id, day);
--> statement-breakpoint
CREATE INDEX item_rollup_tenant_day ON item_rollup (tenant_id, day);
--> statement-breakpoint
-- The consumer upserts (hence UPDATE); only the owner deletes, for a rebuild.
GRANT SELECT, INSERT, UPDATE ON sales_rollup, tax_rollup, item_rollup TO tillproof_app;
