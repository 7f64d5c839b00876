-- Hand-written. Two roles: migrations run as the owner (MIGRATION_DATABASE_URL);
-- the Worker connects as tillproof_app, which may only INSERT and SELECT
-- receipts. It is not the owner, so it cannot TRUNCATE, DELETE, UPDATE or
-- DISABLE a trigger. The role is made here without LOGIN; whoever deploys gives
-- it a login and password (README: Deploying), `npm run dev` and the tests do it locally.
DO $$ BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tillproof_app') THEN
		CREATE ROLE tillproof_app NOLOGIN;
	END IF;
END $$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO tillproof_app;
--> statement-breakpoint
GRANT SELECT, INSERT ON receipts TO tillproof_app;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, stores, terminals TO tillproof_app;
--> statement-breakpoint
-- The daily partition cron runs as the Worker, with the owner's rights for that one job.
ALTER FUNCTION tillproof_ensure_receipt_partitions(integer) SECURITY DEFINER SET search_path = public, pg_temp;
--> statement-breakpoint
REVOKE ALL ON FUNCTION tillproof_ensure_receipt_partitions(integer) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION tillproof_ensure_receipt_partitions(integer) TO tillproof_app;
