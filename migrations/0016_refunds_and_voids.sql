-- Hand-written. Refunds and voids (contract v1.2): a receipt's kind, the
-- original it refers to and a refund's reason are part of its hashed record.
-- NULL kind is a receipt issued before v1.2 (a sale, hashed without the field).
ALTER TABLE receipts ADD COLUMN kind text, ADD COLUMN refers_to varchar(20), ADD COLUMN reason text;
--> statement-breakpoint
-- A sale's refunds and void, for the audit and the lottery; few rows have one.
CREATE INDEX receipts_refers_to ON receipts (refers_to) WHERE refers_to IS NOT NULL;
--> statement-breakpoint
-- Refunds are booked on the refund's own store, hour and day; gross keeps counting sales only.
ALTER TABLE sales_rollup ADD COLUMN refunds numeric NOT NULL DEFAULT 0, ADD COLUMN refunded numeric NOT NULL DEFAULT 0;
--> statement-breakpoint
ALTER TABLE tax_rollup ADD COLUMN refunds numeric NOT NULL DEFAULT 0, ADD COLUMN refunded numeric NOT NULL DEFAULT 0;
