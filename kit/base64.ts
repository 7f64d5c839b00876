/**
 * Base64 in both alphabets, strict on the way in: the printed QR codes and the
 * offline signatures (contract v1.2) are compared byte for byte, so a value
 * with stray characters or padding is refused rather than read loosely. Plain
 * btoa/atob, so the same code runs in Node, workerd and the browser.
 */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Standard base64 with padding, or null. */
export function fromBase64(text: string): Uint8Array | null {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const bytes = Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  return toBase64(bytes) === text ? bytes : null; // canonical only: no stray bits in the last character
}

/** base64url without padding (RFC 4648 §5). */
export const toBase64Url = (bytes: Uint8Array): string =>
  toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** base64url without padding, or null. */
export function fromBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const std = text.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = fromBase64(std + "=".repeat((4 - (std.length % 4)) % 4));
  return bytes && toBase64Url(bytes) === text ? bytes : null;
}
