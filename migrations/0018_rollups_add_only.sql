-- Hand-written. The analytics rollups behind the tax CSV are add-only (#26).
-- The runtime role may no longer INSERT or UPDATE them: the only writer is
-- tillproof_rollups_add, which adds a set of receipts and runs as the owner.
-- The app cannot call it; a statement-level trigger on receipts does, with
-- the rows that INSERT (or COPY) really inserted, so a figure moves only when
-- a receipt lands, exactly once (ON CONFLICT DO NOTHING leaves redelivered
-- rows out of the transition table), and `npm run audit -- --rollups`
-- recomputes every day from the receipts. `npm run analytics:rebuild` (the
-- owner) calls the same function, so the two can never count differently.
--
-- A sale adds to receipts, gross, payments, rates and items; a void takes its
-- sale back out of the same buckets, booked at its sale's time (the sale may
-- be in the same statement: an AFTER trigger sees it); a refund adds to
-- refunds and refunded in its own bucket. Hours are the UTC hour, days the
-- store's own (UTC if its zone is unknown, migrations/0015). Groups are
-- upserted in key order, so concurrent statements take row locks in one
-- order and never deadlock. With from_day/to_day, only receipts booked on
-- those store-local days are added (a rebuild).
CREATE FUNCTION tillproof_rollups_add(rs receipts[], from_day date DEFAULT NULL, to_day date DEFAULT NULL)
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
WITH src AS (
  SELECT * FROM (
    SELECT r.code, r.tenant_id, r.store_id, r.currency, r.total, r.items, r.payments,
           coalesce(r.kind, 'sale') AS kind, coalesce(z.name, 'UTC') AS tz,
           CASE WHEN r.kind = 'void' THEN coalesce(
             (SELECT o.issued_at FROM receipts o WHERE o.code = r.refers_to LIMIT 1), r.issued_at)
           ELSE r.issued_at END AS booked_at
      FROM unnest(rs) r
      LEFT JOIN stores s ON s.tenant_id = r.tenant_id AND s.id = r.store_id
      LEFT JOIN time_zones z ON z.name = s.timezone) x
   WHERE from_day IS NULL OR (booked_at AT TIME ZONE tz)::date BETWEEN from_day AND to_day
),
b AS (
  SELECT src.*, CASE WHEN kind = 'void' THEN -1 ELSE 1 END AS sgn,
         date_trunc('hour', booked_at, 'UTC') AS hour, (booked_at AT TIME ZONE tz)::date AS day FROM src
),
-- Each item once, with what the tax and item rollups group by.
it AS (
  SELECT b.code, b.kind, b.sgn, b.tenant_id, b.store_id, b.currency, b.hour, b.day, coalesce(i->>'taxRate', '') AS rate,
         CASE WHEN i ? 'sku' THEN 's:' || (i->>'sku') ELSE 'n:' || (i->>'name') END AS item_key,
         i->>'sku' AS sku, i->>'name' AS name, (i->>'quantity')::numeric AS quantity, (i->>'total')::bigint AS total
    FROM b, jsonb_array_elements(b.items) i
),
sales AS (
  INSERT INTO sales_rollup AS t (tenant_id, store_id, currency, hour, day, receipts, gross, cash, card, other,
                                 refunds, refunded)
  SELECT b.tenant_id, b.store_id, b.currency, b.hour, b.day,
         coalesce(sum(b.sgn) FILTER (WHERE b.kind <> 'refund'), 0),
         coalesce(sum(b.sgn * b.total) FILTER (WHERE b.kind <> 'refund'), 0),
         coalesce(sum(b.sgn * pay.cash) FILTER (WHERE b.kind <> 'refund'), 0),
         coalesce(sum(b.sgn * pay.card) FILTER (WHERE b.kind <> 'refund'), 0),
         coalesce(sum(b.sgn * pay.other) FILTER (WHERE b.kind <> 'refund'), 0),
         count(*) FILTER (WHERE b.kind = 'refund'),
         coalesce(sum(b.total) FILTER (WHERE b.kind = 'refund'), 0)
    FROM b, LATERAL (
      SELECT coalesce(sum((p->>'amount')::bigint) FILTER (WHERE p->>'method' = 'cash'), 0) AS cash,
             coalesce(sum((p->>'amount')::bigint) FILTER (WHERE p->>'method' = 'card'), 0) AS card,
             coalesce(sum((p->>'amount')::bigint) FILTER (WHERE p->>'method' NOT IN ('cash', 'card')), 0) AS other
        FROM jsonb_array_elements(b.payments) p) pay
   GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (tenant_id, store_id, currency, hour, day) DO UPDATE SET
    receipts = t.receipts + excluded.receipts, gross = t.gross + excluded.gross,
    cash = t.cash + excluded.cash, card = t.card + excluded.card, other = t.other + excluded.other,
    refunds = t.refunds + excluded.refunds, refunded = t.refunded + excluded.refunded
  RETURNING 1
),
tax AS (
  INSERT INTO tax_rollup AS t (tenant_id, store_id, currency, hour, day, rate, receipts, gross, refunds, refunded)
  SELECT tenant_id, store_id, currency, hour, day, rate,
         count(DISTINCT code) FILTER (WHERE kind = 'sale') - count(DISTINCT code) FILTER (WHERE kind = 'void'),
         coalesce(sum(sgn * total) FILTER (WHERE kind <> 'refund'), 0),
         count(DISTINCT code) FILTER (WHERE kind = 'refund'),
         coalesce(sum(total) FILTER (WHERE kind = 'refund'), 0)
    FROM it GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (tenant_id, store_id, currency, hour, day, rate) DO UPDATE SET
    receipts = t.receipts + excluded.receipts, gross = t.gross + excluded.gross,
    refunds = t.refunds + excluded.refunds, refunded = t.refunded + excluded.refunded
  RETURNING 1
),
item AS (
  INSERT INTO item_rollup AS t (tenant_id, store_id, currency, day, item_key, sku, name, quantity, revenue, receipts)
  SELECT tenant_id, store_id, currency, day, item_key, min(sku), min(name), sum(sgn * quantity), sum(sgn * total),
         count(DISTINCT code) FILTER (WHERE kind = 'sale') - count(DISTINCT code) FILTER (WHERE kind = 'void')
    FROM it WHERE kind <> 'refund' GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (tenant_id, store_id, currency, day, item_key) DO UPDATE SET
    name = least(t.name, excluded.name), quantity = t.quantity + excluded.quantity,
    revenue = t.revenue + excluded.revenue, receipts = t.receipts + excluded.receipts
  RETURNING 1
)
SELECT count(*) FROM src
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION tillproof_rollups_add(receipts[], date, date) FROM PUBLIC;
--> statement-breakpoint
CREATE FUNCTION tillproof_receipts_to_rollups() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
	PERFORM tillproof_rollups_add(ARRAY(SELECT n::receipts FROM inserted n));
	RETURN NULL;
END $$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION tillproof_receipts_to_rollups() FROM PUBLIC;
--> statement-breakpoint
CREATE TRIGGER receipts_to_rollups AFTER INSERT ON receipts
	REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION tillproof_receipts_to_rollups();
--> statement-breakpoint
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON sales_rollup, tax_rollup, item_rollup FROM tillproof_app;
