/**
 * Payment-card detection: we must never store a card number (PCI scope), so a
 * text field holding one is refused. Three shapes are caught:
 *
 * - the contract's rule: a run of 13–19 digits, spaces or dashes allowed between
 *   them, that passes Luhn;
 * - a card number written in its printed groups with dots or slashes
 *   (4111.1111.1111.1111, 3782/822463/10005);
 * - a card number glued to other digits at either end of a longer run
 *   (0004111111111111111, or a number with its CVV: 4111 1111 1111 1111 123):
 *   a window at the run's start or end with a card network's prefix and length
 *   that passes Luhn.
 *
 * Text is first folded so that other spellings of the same digits count: NFKC
 * (fullwidth digits), every script's decimal digits (Arabic-Indic, Devanagari …)
 * as ASCII, invisible format characters (U+200B …) dropped, and every space and
 * dash character as a plain space or dash.
 *
 * Dates, times and prices written with dots or slashes are not card-shaped,
 * and only the two end windows of a long run are tried, so long product
 * numbers are seldom mistaken for cards (≈ 5 % of random 20–30-digit runs).
 */
const DIGIT_RUN = /\d(?:[ -]?\d)+/g;
/** 4-4-4-4(-3), 4-6-5 (Amex) or 4-6-4 (Diners), with dots or slashes. */
const GROUPED = /\b(?:\d{4}([./])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([./])\d{6}\2\d{4,5})\b/g;

/**
 * The four largest card networks by prefix and the length they issue (ISO/IEC
 * 7812 IIN ranges). Fewer prefixes, fewer false alarms: each one adds its share
 * of long digit runs that happen to start or end like a card.
 */
const NETWORKS: { prefix: RegExp; length: number }[] = [
  { prefix: /^4/, length: 16 }, // Visa
  { prefix: /^(5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)/, length: 16 }, // Mastercard
  { prefix: /^3[47]/, length: 15 }, // American Express
  { prefix: /^(6011|64[4-9]|65)/, length: 16 }, // Discover
];

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

const isCard = (digits: string) => digits.length >= 13 && digits.length <= 19 && luhnValid(digits);

/** A card number at the start or the end of a run longer than the card (14 digits and up). */
function gluedCard(digits: string): boolean {
  return NETWORKS.some(({ prefix, length }) => {
    if (digits.length <= length) return false;
    const head = digits.slice(0, length);
    const tail = digits.slice(-length);
    return (prefix.test(head) && luhnValid(head)) || (prefix.test(tail) && luhnValid(tail));
  });
}

/**
 * The value of a decimal digit of any script: Unicode keeps each script's
 * digits 0–9 as one run of ten code points, so the value is the distance from
 * the run's start, modulo 10 (some runs of ten follow each other).
 */
function digitValue(ch: string): string {
  let cp = ch.codePointAt(0) ?? 48;
  let start = cp;
  while (/\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
  cp = (cp - start) % 10;
  return String(cp);
}

/** The text as the card check reads it: one spelling of digits, spaces and dashes, nothing invisible. */
export function foldForCardCheck(text: string): string {
  return text
    .normalize("NFKC")
    .replace(/\p{Cf}/gu, "")
    .replace(/[^\P{Nd}0-9]/gu, digitValue)
    .replace(/\p{Zs}/gu, " ")
    .replace(/\p{Pd}/gu, "-");
}

export function containsCardNumber(raw: string): boolean {
  const text = foldForCardCheck(raw);
  for (const match of text.matchAll(DIGIT_RUN)) {
    const digits = match[0].replace(/[ -]/g, "");
    if (isCard(digits) || gluedCard(digits)) return true;
  }
  for (const match of text.matchAll(GROUPED)) {
    if (isCard(match[0].replace(/[./]/g, ""))) return true;
  }
  return false;
}
