/**
 * Payment-card detection: we must never store a card number (PCI scope), so a
 * text field holding 13–19 digits that pass Luhn is refused (the contract's
 * rule), with spaces, dashes, dots or slashes between them. A card number
 * hidden in a longer run of digits is found too: any window that has a card
 * network's prefix and length and passes Luhn (the prefix keeps long product
 * numbers from tripping it by chance).
 */
const DIGIT_RUN = /\d(?:[ ./-]?\d)+/g;

/** Card networks by prefix and the lengths they issue (ISO/IEC 7812 IIN ranges). */
// The lengths nearly all cards in circulation have: fewer windows, fewer false alarms on long numbers.
const NETWORKS: { prefix: RegExp; lengths: number[] }[] = [
  { prefix: /^4/, lengths: [16] }, // Visa
  { prefix: /^(5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)/, lengths: [16] }, // Mastercard
  { prefix: /^3[47]/, lengths: [15] }, // American Express
  { prefix: /^(6011|64[4-9]|65)/, lengths: [16] }, // Discover
  { prefix: /^35(2[89]|[3-8]\d)/, lengths: [16] }, // JCB
  { prefix: /^62/, lengths: [16] }, // UnionPay
  { prefix: /^3(0[0-5]|[689])/, lengths: [14] }, // Diners Club
];

function hiddenCard(digits: string): boolean {
  for (let i = 0; i + 13 <= digits.length; i++) {
    for (const { prefix, lengths } of NETWORKS) {
      if (!prefix.test(digits.slice(i, i + 6))) continue;
      for (const n of lengths) {
        if (i + n <= digits.length && luhnValid(digits.slice(i, i + n))) return true;
      }
    }
  }
  return false;
}

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

export function containsCardNumber(text: string): boolean {
  for (const match of text.matchAll(DIGIT_RUN)) {
    const digits = match[0].replace(/[ ./-]/g, "");
    if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) return true;
    if (digits.length > 13 && hiddenCard(digits)) return true;
  }
  return false;
}
