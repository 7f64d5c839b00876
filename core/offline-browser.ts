/**
 * The browser copy of core/offline.ts's checks of a printed QR code, as plain
 * ES2020 text for the pages that run it (the `/o` page, the independent
 * verifier): their CSP allows their one script by hash, so it is text, not a
 * module. offline-browser.test.ts runs it in Node's WebCrypto against what
 * core/offline.ts signs, so the two definitions of every signed byte agree.
 *
 * Defines: printedPayload(text), offlineChecks(p, certKeys), qrSigned(p, certKeys),
 * ed25519Key(raw), bytesOfBase64(s), amountText(minor, currency). Keys are CryptoKeys (Ed25519, verify).
 */
export const BROWSER_OFFLINE = `
const bytesOfBase64 = (s) => { try { return Uint8Array.from(atob(s), (c) => c.charCodeAt(0)); } catch { return null; } };
const ed25519Key = async (raw) => {
  if (!raw || raw.length !== 32) return null;
  try { return await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]); } catch { return null; }
};
const signedWith = async (key, sigBase64, text) => {
  const sig = bytesOfBase64(sigBase64);
  if (!key || !sig || sig.length !== 64) return false;
  try { return await crypto.subtle.verify({ name: "Ed25519" }, key, sig, new TextEncoder().encode(text)); } catch { return false; }
};
const signedWithAny = async (keys, sigBase64, text) => {
  for (const k of keys) if (await signedWith(k, sigBase64, text)) return true;
  return false;
};
// The payload after "#" in a printed URL (or alone): base64url of JSON, its keys in the contract's order.
const printedPayload = (text) => {
  let p = null;
  try {
    const b = text.slice(text.indexOf("#") + 1).trim().replace(/-/g, "+").replace(/_/g, "/");
    p = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytesOfBase64(b + "===".slice((b.length + 3) % 4)) || new Uint8Array()));
  } catch { return null; }
  if (!p || typeof p !== "object" || p.v !== 1) return null;
  const str = (xs) => xs.every((x) => typeof x === "string");
  const time = (s) => !Number.isNaN(Date.parse(s));
  const keys = Object.keys(p).join();
  if (keys === "v,t,s,d,n,a,c,m,h,k,x,e,g" && str([p.t, p.s, p.d, p.a, p.c, p.h, p.k, p.x, p.e, p.g]) &&
      Number.isInteger(p.n) && Number.isInteger(p.m) && time(p.a) && time(p.e)) return { kind: "offline", p };
  if (keys === "v,c,r,y,m,h,g" && str([p.c, p.r, p.y, p.h, p.g]) && Number.isInteger(p.m) && time(p.r)) return { kind: "qr", p };
  return null;
};
// An offline receipt's three checks: the gateway certified the till's key, the till signed, within the certificate.
const offlineChecks = async (p, certKeys) => ({
  certificate: await signedWithAny(certKeys, p.x, "tillproof/terminal-cert/v1\\n" + [p.t, p.s, p.d, p.k, p.e].join("\\n") + "\\n"),
  signature: await signedWith(await ed25519Key(bytesOfBase64(p.k)), p.g,
    "tillproof/offline-receipt/v1\\n" + [p.t, p.s, p.d, p.n, p.a, p.c, p.m, p.h].join("\\n") + "\\n"),
  inValidity: Date.parse(p.a) <= Date.parse(p.e),
});
// An amount in minor units as the paper shows it: 390 EUR "3.90 EUR", 1500 JPY "1500 JPY", 1250 KWD "1.250 KWD".
const amountText = (minor, currency) => {
  let digits = 2;
  try { digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits; } catch {}
  return (minor / 10 ** digits).toFixed(digits) + " " + currency;
};
// A receipt's signed QR: the gateway signed its code, time, amount and hash.
const qrSigned = (p, certKeys) =>
  signedWithAny(certKeys, p.g, "tillproof/receipt-qr/v1\\n" + [p.c, p.r, p.y, p.m, p.h].join("\\n") + "\\n");
`;
