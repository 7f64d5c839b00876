-- v1.2 offline receipts: the terminal's Ed25519 key and its certificate's end (docs/offline.md).
-- (admin_audit, created by hand in 0010, enters drizzle's snapshot here; nothing to create.)
ALTER TABLE "terminals" ADD COLUMN "public_key" text;--> statement-breakpoint
ALTER TABLE "terminals" ADD COLUMN "cert_not_after" timestamp with time zone;
