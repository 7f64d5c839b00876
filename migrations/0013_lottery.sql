-- Hand-written. The receipt lottery (contract v1.1 "Receipt lottery"). A draw's
-- reveal stays here, unpublished, until the draw is run; its result is written
-- once and never changes (a trigger refuses any later UPDATE and any DELETE).
CREATE TABLE lottery_draws (
	id text PRIMARY KEY,
	title text NOT NULL,
	opens_at timestamptz NOT NULL,
	closes_at timestamptz NOT NULL,
	min_total bigint NOT NULL,
	currency char(3),
	tenants text[],
	prizes jsonb NOT NULL,
	reveal bytea NOT NULL,
	commitment char(64) NOT NULL,
	drawn_at timestamptz,
	seed char(64),
	shards jsonb,
	winning jsonb,
	winners bigint
);
--> statement-breakpoint
CREATE FUNCTION tillproof_draw_result_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' OR OLD.drawn_at IS NOT NULL THEN
		RAISE EXCEPTION 'lottery draw % is final', OLD.id USING ERRCODE = 'P0001';
	END IF;
	IF NEW.id <> OLD.id OR NEW.reveal <> OLD.reveal OR NEW.commitment <> OLD.commitment
	   OR NEW.opens_at <> OLD.opens_at OR NEW.closes_at <> OLD.closes_at OR NEW.prizes <> OLD.prizes
	   OR NEW.min_total <> OLD.min_total OR NEW.currency IS DISTINCT FROM OLD.currency
	   OR NEW.tenants IS DISTINCT FROM OLD.tenants THEN
		RAISE EXCEPTION 'lottery draw % rules are fixed at creation', OLD.id USING ERRCODE = 'P0001';
	END IF;
	RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER lottery_draws_final BEFORE UPDATE OR DELETE ON lottery_draws
	FOR EACH ROW EXECUTE FUNCTION tillproof_draw_result_final();
--> statement-breakpoint
ALTER TABLE lottery_draws ENABLE ALWAYS TRIGGER lottery_draws_final;
--> statement-breakpoint
-- Winners are found by code suffix: the reversed code, searched by prefix, per daily partition.
-- On a live database build it first without blocking inserts (docs/scale.md §14); then this is a no-op.
CREATE INDEX IF NOT EXISTS receipts_code_reversed ON receipts (reverse(code) text_pattern_ops);
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE ON lottery_draws TO tillproof_app;
