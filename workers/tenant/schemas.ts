/** What tenant takes and answers, as zod schemas: the OpenAPI document and the types come from them. */
import { z } from "zod";
import { time } from "../../api/responses.ts";
import { brandingInputSchema } from "../../core/branding.ts";
import { slug } from "../../core/ids.ts";
import { publicKeySchema } from "../../core/offline.ts";
import { textField } from "../../core/text.ts";
import { isStoreTimeZone } from "../../core/time-zones.ts";

export const createTenantSchema = z.strictObject({ id: slug, name: textField(200) });

export const storeSchema = z.strictObject({
  name: textField(200),
  address: textField(500, { multiline: true }).optional(),
  timezone: z.string().refine(isStoreTimeZone, "must be an IANA time zone Postgres knows, such as Europe/Berlin"),
});

export const terminalSchema = z.strictObject({
  id: slug,
  label: textField(100).optional(),
  publicKey: publicKeySchema.optional(),
});

// Responses.
export const tenantCreatedSchema = z.object({
  tenant: z.object({ id: z.string(), name: z.string(), createdAt: time }),
  apiKey: z.string().meta({ description: "Shown once; only its hash is stored" }),
});

export const storeResponseSchema = z.object({
  store: z.object({
    tenantId: z.string(),
    id: z.string(),
    name: z.string(),
    address: z.string().nullable(),
    timezone: z.string(),
    createdAt: time,
    updatedAt: time,
  }),
});

export const terminalCreatedSchema = z.object({
  terminal: z.object({ id: z.string(), storeId: z.string(), label: z.string().optional(), createdAt: time }),
  token: z.string().meta({ description: "Shown once; only its hash is stored" }),
  certificate: z.string().optional().meta({
    description:
      "v1.2, with publicKey: the gateway's Ed25519 signature (standard base64) over tillproof/terminal-cert/v1\\n<tenantId>\\n<storeId>\\n<terminalId>\\n<publicKey>\\n<notAfter>\\n",
  }),
  notAfter: time.optional().meta({ description: "v1.2, with publicKey: the certificate's end" }),
});

export const apiKeySchema = z.object({ apiKey: z.string() });

export const auditPageSchema = z.object({
  entries: z.array(
    z.object({
      id: z.number().int(),
      at: time,
      actor: z.string(),
      action: z.string(),
      target: z.string().nullable(),
      detail: z.unknown(),
    }),
  ),
  next: z.number().int().nullable(),
});

export const brandingResponseSchema = z.object({
  branding: brandingInputSchema.extend({ updatedAt: time.nullable() }),
});
