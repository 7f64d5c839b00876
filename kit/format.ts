/**
 * How a receipt reads to a person: amounts, quantities and times for a locale.
 * The locale only changes presentation; how many minor units make a major unit
 * is the currency's, never the reader's.
 */

export const DEFAULT_LOCALE = "en";

/**
 * The reader's preferred locale among those this runtime formats, from an
 * Accept-Language header (quality values honoured), else `en`.
 */
export function pickLocale(acceptLanguage: string | null | undefined): string {
  const ranked = (acceptLanguage ?? "")
    .split(",")
    .map((part, index) => {
      const [tag = "", ...params] = part.trim().split(";");
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { tag: tag.trim(), q: q === undefined ? 1 : Number(q), index };
    })
    .filter((l) => l.tag && l.tag !== "*" && l.q > 0 && /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(l.tag))
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { tag } of ranked) {
    try {
      const [supported] = Intl.NumberFormat.supportedLocalesOf(tag);
      if (supported) return supported;
    } catch {
      // A tag Intl refuses is just skipped.
    }
  }
  return DEFAULT_LOCALE;
}

/** Minor-unit digits of a currency (EUR 2, JPY 0, BHD 3), independent of any locale. */
export function fractionDigits(currency: string): number {
  return (
    new Intl.NumberFormat(DEFAULT_LOCALE, { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2
  );
}

/** An amount in minor units, e.g. 680 EUR → "€6.80" (en) or "6,80 €" (de). */
export function formatMoney(minor: number, currency: string, locale: string): string {
  const digits = fractionDigits(currency);
  return new Intl.NumberFormat(locale, {
    style: "currency",
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(minor / 10 ** digits);
}

/** A quantity: whole pieces as they are, weights to at most three decimals. */
export function formatQuantity(quantity: number, locale: string): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 3 }).format(quantity);
}

/** A point in time on the store's wall clock, with the zone's abbreviation. */
export function formatDateTime(iso: string, timeZone: string, locale: string): string {
  const options: Intl.DateTimeFormatOptions = {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  };
  const date = new Date(iso);
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone }).format(date);
  } catch {
    // An unknown zone (the stores API validates them, but data outlives code).
    return new Intl.DateTimeFormat(locale, { ...options, timeZone: "UTC" }).format(date);
  }
}
