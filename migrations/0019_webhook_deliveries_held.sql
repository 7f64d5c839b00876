-- Hand-written. A webhook delivery whose receipt fails the check verify makes
-- (the record no longer hashes to its hash, or that hash is not its shard's
-- log entry) is `held` (#26): never signed, never sent, counted for /ops and
-- /metrics. A manual retry checks again and sends it only if it now passes.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_status_check;
--> statement-breakpoint
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_status_check
	CHECK (status IN ('pending', 'delivered', 'failed', 'held'));
--> statement-breakpoint
-- What the operator's status counts, without reading the delivery log.
CREATE INDEX webhook_deliveries_held ON webhook_deliveries (created_at) WHERE status = 'held';
