-- Hand-written. What proves each shard's size at a draw's close (#26): the
-- witnessed checkpoint, and the last leaf before the close and the first
-- after it with inclusion proofs (core/lottery.ts Boundary). Stored with the
-- result, once; NULL for draws run before.
ALTER TABLE lottery_draws ADD COLUMN boundaries jsonb;
