/**
 * A tenant's white-label branding: what a tenant may set, and how it is
 * normalized. Everything here ends up on a public page, so colours are strict
 * hex and links are https only (no javascript:, data: or mixed content).
 */
import { z } from "zod";
import { textField } from "./text.ts";

export const MAX_URL_LENGTH = 2048;

const hexColor = z
  .string()
  .regex(/^#[0-9a-fA-F]{6}$/, "must be a colour as #rrggbb")
  .toLowerCase();

/** The normalized href of an https URL without credentials, else null. */
export function httpsHref(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" || !url.hostname || url.username || url.password) return null;
  return url.href;
}

const httpsUrl = z
  .string()
  .max(MAX_URL_LENGTH)
  .transform((value, ctx) => {
    const href = httpsHref(value.trim());
    if (href === null || href.length > MAX_URL_LENGTH) {
      ctx.issues.push({ code: "custom", input: value, message: "must be an https:// URL without credentials" });
      return z.NEVER;
    }
    return href;
  });

/** PUT /v1/tenants/{t}/branding. A PUT replaces the whole branding: omitted fields are cleared. */
export const brandingInputSchema = z.strictObject({
  displayName: textField(100),
  primaryColor: hexColor,
  accentColor: hexColor.optional(),
  logoUrl: httpsUrl.optional(),
  supportUrl: httpsUrl.optional(),
  receiptFooter: textField(280, { multiline: true }).optional(),
});

export type BrandingInput = z.output<typeof brandingInputSchema>;

/** What is stored and served. `updatedAt` is null for the defaults of a tenant that never set any. */
export type Branding = BrandingInput & { updatedAt: string | null };

/** Re-validates what comes back from storage before it reaches a page or a client (seeded defaults have no updatedAt). */
export const storedBrandingSchema = brandingInputSchema.extend({ updatedAt: z.iso.datetime().nullable() });

/** A neutral palette for tenants without branding: slate on white. */
export const DEFAULT_PRIMARY_COLOR = "#1f2937";

export function defaultBranding(displayName: string): Branding {
  return { displayName, primaryColor: DEFAULT_PRIMARY_COLOR, updatedAt: null };
}
