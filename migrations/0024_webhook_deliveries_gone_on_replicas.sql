-- A receipts database (docs/scale.md §6a) holds a replicated copy of `webhooks` and the
-- deliveries of its own receipts. Replication applies a webhook's deletion without the foreign
-- key's cascade (RI triggers do not fire in replica mode), so this trigger, which fires ALWAYS,
-- deletes the webhook's deliveries there. On the primary the cascade has already done so. Its
-- search_path is its own: the replication apply worker runs with an empty one.
CREATE FUNCTION tillproof_webhook_deliveries_gone() RETURNS trigger LANGUAGE plpgsql
	SET search_path = public, pg_temp AS $$
BEGIN
	DELETE FROM webhook_deliveries WHERE tenant_id = OLD.tenant_id AND webhook_id = OLD.id;
	RETURN OLD;
END $$;
--> statement-breakpoint
CREATE TRIGGER webhooks_deliveries_gone AFTER DELETE ON webhooks
	FOR EACH ROW EXECUTE FUNCTION tillproof_webhook_deliveries_gone();
--> statement-breakpoint
ALTER TABLE webhooks ENABLE ALWAYS TRIGGER webhooks_deliveries_gone;
