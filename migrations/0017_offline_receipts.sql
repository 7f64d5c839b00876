-- v1.2 offline receipts (docs/offline.md): what the record hashes of an offline receipt (its
-- terminal's signature, and whether it came late), and the terminal's key and certificate's end.
-- (admin_audit, created by hand in 0010, enters drizzle's snapshot here; nothing to create.)
ALTER TABLE "receipts" ADD COLUMN "offline" jsonb;--> statement-breakpoint
ALTER TABLE "receipts" ADD COLUMN "late" boolean;--> statement-breakpoint
ALTER TABLE "terminals" ADD COLUMN "public_key" text;--> statement-breakpoint
ALTER TABLE "terminals" ADD COLUMN "cert_not_after" timestamp with time zone;
