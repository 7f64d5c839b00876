import { z } from "zod";
import { slug } from "../../core/ids.ts";
import { textField } from "../../core/text.ts";
import { isStoreTimeZone } from "../../core/time-zones.ts";

export const createTenantSchema = z.strictObject({ id: slug, name: textField(200) });

export const storeSchema = z.strictObject({
  name: textField(200),
  address: textField(500, { multiline: true }).optional(),
  timezone: z.string().refine(isStoreTimeZone, "must be an IANA time zone Postgres knows, such as Europe/Berlin"),
});

export const terminalSchema = z.strictObject({ id: slug, label: textField(100).optional() });
