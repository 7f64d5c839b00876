-- Hand-written. A draw's winners are kept at its run (#27): the list is found through the
-- reversed-code index of receipts, which an archived day no longer has, so it is written down
-- while every ticket is still in Postgres. Until a draw's winners are kept, the archive holds
-- every day from its open (db/lottery.ts lotteryHoldsFrom): a draw cannot know its tickets
-- before its run. Both tables only grow: the runtime role may read and add, never change, and a
-- trigger refuses a winner added to a draw not run yet or to a list already kept (its count is final).
CREATE TABLE lottery_winners (
	draw_id text NOT NULL REFERENCES lottery_draws (id),
	code varchar(20) NOT NULL,
	prize int NOT NULL,
	tenant_id text NOT NULL,
	store_id text NOT NULL,
	total bigint NOT NULL,
	currency char(3) NOT NULL,
	received_at timestamptz NOT NULL,
	PRIMARY KEY (draw_id, code)
);
--> statement-breakpoint
CREATE TABLE lottery_winners_kept (
	draw_id text PRIMARY KEY REFERENCES lottery_draws (id),
	winners bigint NOT NULL,
	kept_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
GRANT SELECT, INSERT ON lottery_winners, lottery_winners_kept TO tillproof_app;
--> statement-breakpoint
CREATE FUNCTION tillproof_lottery_winners_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM lottery_winners_kept k WHERE k.draw_id = NEW.draw_id) THEN
		RAISE EXCEPTION 'the winners of lottery draw % are kept: the list is final', NEW.draw_id USING ERRCODE = 'P0001';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM lottery_draws d WHERE d.id = NEW.draw_id AND d.drawn_at IS NOT NULL) THEN
		RAISE EXCEPTION 'lottery draw % has not been run', NEW.draw_id USING ERRCODE = 'P0001';
	END IF;
	RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER lottery_winners_final BEFORE INSERT ON lottery_winners
	FOR EACH ROW EXECUTE FUNCTION tillproof_lottery_winners_final();
--> statement-breakpoint
ALTER TABLE lottery_winners ENABLE ALWAYS TRIGGER lottery_winners_final;
