import { z } from "zod";
import { slug } from "../../core/ids.ts";
import { textField } from "../../core/text.ts";

/** An IANA zone name (Europe/Berlin, UTC): offsets such as "+05:30" are refused, Postgres reads them with the sign flipped. */
const isTimeZone = (tz: string) => {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(tz)) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

export const createTenantSchema = z.strictObject({ id: slug, name: textField(200) });

export const storeSchema = z.strictObject({
  name: textField(200),
  address: textField(500, { multiline: true }).optional(),
  timezone: z.string().refine(isTimeZone, "must be an IANA time zone such as Europe/Berlin"),
});

export const terminalSchema = z.strictObject({ id: slug, label: textField(100).optional() });
