/**
 * Free text a client may send (names, addresses, labels, footers). It ends up in
 * Postgres and on a public page, so it must be text Postgres accepts and a person
 * can read: no control characters (Postgres refuses \u0000 outright) and no
 * unpaired surrogates. Lengths count characters as a person does (code points).
 */
import { z } from "zod";

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the same, line breaks allowed
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f]/;

/**
 * Bidirectional embedding, override and isolate controls (and the implicit
 * marks): they can make a page show "€1.00" for a record holding "€100", so
 * text that is hashed and shown must not carry them.
 */
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * Other invisible format characters (Unicode Cf: zero-width space U+200B, word
 * joiner U+2060, U+180E, soft hyphen, BOM …): they hide inside names and numbers
 * (a card number split by them), and show as nothing. Some stay: the zero-width
 * (non-)joiners (Persian, Indic scripts and emoji sequences need them), the emoji
 * tag characters (the flags of England, Scotland, Wales) and the Arabic number signs.
 */
const INVISIBLE = /(?!\u200c|\u200d|[\u0600-\u0605]|[\u{E0020}-\u{E007F}])\p{Cf}/u;

/** `multiline` allows line breaks (\n; \r\n is normalized to it), e.g. a receipt footer. */
export function textField(max: number, opts: { multiline?: boolean } = {}) {
  const control = opts.multiline ? CONTROL_BUT_NEWLINE : CONTROL;
  return z
    .string()
    .transform((s) => (opts.multiline ? s.replaceAll("\r\n", "\n") : s))
    .pipe(z.string().trim().min(1))
    .refine((s) => !control.test(s), "must not contain control characters")
    .refine((s) => !BIDI.test(s), "must not contain bidirectional control characters")
    .refine((s) => !INVISIBLE.test(s), "must not contain invisible format characters")
    .refine((s) => s.isWellFormed(), "must be valid Unicode text")
    .refine((s) => [...s].length <= max, `must be at most ${max} characters`);
}
