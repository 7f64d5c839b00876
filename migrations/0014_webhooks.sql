-- Hand-written. Tenant webhooks (contract v1.1 "Tenant webhooks"). A webhook's
-- signing secret is derived from the server's key and `secret_salt`; it is never
-- stored. Deliveries are written in the consumer's INSERT of the receipts
-- themselves (db/receipts.ts), so a receipt in Postgres always has its
-- deliveries: the queue only says "send these now", and Postgres is the log.
CREATE TABLE webhooks (
	tenant_id text NOT NULL REFERENCES tenants (id),
	id text NOT NULL,
	url text NOT NULL,
	events text[] NOT NULL,
	store_ids text[],
	secret_salt text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id)
);
--> statement-breakpoint
CREATE TABLE webhook_deliveries (
	tenant_id text NOT NULL,
	webhook_id text NOT NULL,
	event_id text NOT NULL,
	code text NOT NULL,
	-- With the code, the receipt's whole primary key: its day's partition is found without probing the others.
	received_at timestamptz NOT NULL,
	status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts integer NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now(),
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	last_attempt_at timestamptz,
	last_status integer,
	last_error text,
	delivered_at timestamptz,
	PRIMARY KEY (tenant_id, webhook_id, event_id),
	FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE
);
--> statement-breakpoint
-- The delivery log, newest first, per webhook and status.
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (tenant_id, webhook_id, created_at DESC, event_id DESC);
--> statement-breakpoint
-- The sweep for deliveries whose queue message was lost: small, only what is still pending.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
--> statement-breakpoint
-- What the operator's status counts: the given-up deliveries.
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (created_at) WHERE status = 'failed';
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON webhooks TO tillproof_app;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_deliveries TO tillproof_app;
