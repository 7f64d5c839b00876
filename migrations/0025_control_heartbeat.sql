-- The primary's minute cron writes now() here; receipts databases (docs/scale.md §6a) receive it
-- with the rest of the control plane, so each one's copy says how far its replication is behind.
CREATE TABLE control_heartbeat (
	id smallint PRIMARY KEY CHECK (id = 1),
	at timestamptz NOT NULL
);
--> statement-breakpoint
INSERT INTO control_heartbeat VALUES (1, now());
--> statement-breakpoint
GRANT SELECT, UPDATE ON control_heartbeat TO tillproof_app;
