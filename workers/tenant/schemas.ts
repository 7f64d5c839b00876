import { z } from "zod";
import { slug } from "../../core/ids.ts";

const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

export const createTenantSchema = z.strictObject({ id: slug, name: z.string().trim().min(1).max(200) });

export const storeSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  address: z.string().trim().min(1).max(500).optional(),
  timezone: z.string().refine(isTimeZone, "must be an IANA time zone such as Europe/Berlin"),
});

export const terminalSchema = z.strictObject({ id: slug, label: z.string().trim().min(1).max(100).optional() });
