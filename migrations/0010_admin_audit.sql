-- Hand-written. Every administrative change (tenants, stores, terminals, keys,
-- branding) is one row here: who, what, when. Append-only like receipts: the
-- Worker's role may only INSERT and SELECT, and a trigger refuses UPDATE,
-- DELETE and TRUNCATE whatever session_replication_role says.
CREATE TABLE IF NOT EXISTS admin_audit (
	id bigserial PRIMARY KEY,
	tenant_id text NOT NULL,
	at timestamptz NOT NULL DEFAULT now(),
	actor text NOT NULL,
	action text NOT NULL,
	target text,
	detail jsonb
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS admin_audit_tenant_id ON admin_audit (tenant_id, id);
--> statement-breakpoint
CREATE OR REPLACE FUNCTION tillproof_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the admin audit is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
--> statement-breakpoint
CREATE TRIGGER admin_audit_append_only BEFORE UPDATE OR DELETE ON admin_audit
	FOR EACH ROW EXECUTE FUNCTION tillproof_audit_append_only();
--> statement-breakpoint
CREATE TRIGGER admin_audit_no_truncate BEFORE TRUNCATE ON admin_audit
	FOR EACH STATEMENT EXECUTE FUNCTION tillproof_audit_append_only();
--> statement-breakpoint
ALTER TABLE admin_audit ENABLE ALWAYS TRIGGER admin_audit_append_only;
--> statement-breakpoint
ALTER TABLE admin_audit ENABLE ALWAYS TRIGGER admin_audit_no_truncate;
--> statement-breakpoint
REVOKE ALL ON admin_audit FROM PUBLIC;
--> statement-breakpoint
GRANT SELECT, INSERT ON admin_audit TO tillproof_app;
--> statement-breakpoint
GRANT USAGE ON SEQUENCE admin_audit_id_seq TO tillproof_app;
