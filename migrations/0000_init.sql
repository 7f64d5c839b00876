CREATE TABLE "receipts" (
	"code" char(16) NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"tenant_id" text NOT NULL,
	"store_id" text NOT NULL,
	"terminal_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"issued_at" timestamp with time zone NOT NULL,
	"currency" char(3) NOT NULL,
	"total" bigint NOT NULL,
	"cashier" text,
	"items" jsonb NOT NULL,
	"payments" jsonb NOT NULL,
	"hash" char(64) NOT NULL,
	"prev_hash" char(64) NOT NULL,
	CONSTRAINT "receipts_code_received_at_pk" PRIMARY KEY("code","received_at")
);
--> statement-breakpoint
CREATE TABLE "stores" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"address" text,
	"timezone" text NOT NULL,
	"shard" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stores_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"api_key_hash" char(64) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "terminals" (
	"tenant_id" text NOT NULL,
	"store_id" text NOT NULL,
	"id" text NOT NULL,
	"label" text,
	"token_hash" char(64) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "terminals_tenant_id_store_id_id_pk" PRIMARY KEY("tenant_id","store_id","id"),
	CONSTRAINT "terminals_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
ALTER TABLE "stores" ADD CONSTRAINT "stores_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "receipts_store_seq" ON "receipts" USING btree ("tenant_id","store_id","seq");