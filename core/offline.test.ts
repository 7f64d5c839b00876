import { describe, expect, it } from "vitest";
import { fromBase64 } from "../kit/base64.ts";
import { canonicalHash } from "./canonical.ts";
import {
  certificateText,
  checkOfflinePayload,
  checkSignedQr,
  decodeOfflinePayload,
  decodeSignedQr,
  encodePayload,
  offlinePayload,
  offlineReceiptText,
  receiptQrText,
  signedQrPayload,
  signText,
} from "./offline.ts";
import { BROWSER_OFFLINE } from "./offline-browser.ts";

// Vectors computed outside this code: keys from fixed seeds (00..1f for the gateway, 20..3f for the
// terminal), signatures with `openssl pkeyutl -sign -rawin` over the texts written to files (each ends in a newline), the hash with sha256sum and the payloads
// with `base64 | tr '+/' '-_' | tr -d =` over the JSON written out by hand.
const seed = (from: number) => Uint8Array.from({ length: 32 }, (_, i) => from + i);
const PKCS8 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
const signingKey = (s: Uint8Array) =>
  crypto.subtle.importKey("pkcs8", new Uint8Array([...PKCS8, ...s]), "Ed25519", false, ["sign"]);
const GATEWAY_PUB = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
const TERMINAL_PUB = "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=";
const CERT_SIG = "03/TgEvP0ENgANJT6aRY+p/4R7sML9uiTbFcr7nMa/g8J070E+PgGs5+kSiVI8Z5BKv4Etm8vKZxz7vTVrbODA==";
const OFFLINE_SIG = "csMBRtZnimArtaQZblQIcidhDZac8BGkjAkYnYJSw3wnULoLv+kaKGAmqpOZQtFKC9O3/uurbgO7KhP7lTDHBg==";
const QR_SIG = "BElBCZOjz3UJjT8Fn6RrbzbSOBVsVjO0kaPJ8YiHsYKFAdOtjTkYqElvSv86Q2oXTno4RHQL0m9w+lX6JBraCg==";
const BODY_HASH = "18e2e57dceb209766449b7393faa2f9675ed157236262356ea316fc70b3718ab";
const OFFLINE_PAYLOAD =
  "eyJ2IjoxLCJ0IjoiYWNtZSIsInMiOiJiZXJsaW4tMSIsImQiOiJ0aWxsLTEiLCJuIjo3LCJhIjoiMjAyNi0xMi0wNlQxMDowMDowMCswMTowMCIsImMiOiJFVVIiLCJtIjoyNTAsImgiOiIxOGUyZTU3ZGNlYjIwOTc2NjQ0OWI3MzkzZmFhMmY5Njc1ZWQxNTcyMzYyNjIzNTZlYTMxNmZjNzBiMzcxOGFiIiwiayI6IktheTY0VUc4eXZDeUxocVUwMDBMeHpZZVVtMEwvaExJbDVTOGt5S1diZGM9IiwieCI6IjAzL1RnRXZQMEVOZ0FOSlQ2YVJZK3AvNFI3c01MOXVpVGJGY3I3bk1hL2c4SjA3MEUrUGdHczUra1NpVkk4WjVCS3Y0RXRtOHZLWnh6N3ZUVnJiT0RBPT0iLCJlIjoiMjAyNy0xMi0wNlQwMDowMDowMC4wMDBaIiwiZyI6ImNzTUJSdFpuaW1BcnRhUVpibFFJY2lkaERaYWM4QkdrakFrWW5ZSlN3M3duVUxvTHYra2FLR0FtcXBPWlF0RktDOU8zL3V1cmJnTzdLaFA3bFRESEJnPT0ifQ";
const QR_PAYLOAD =
  "eyJ2IjoxLCJjIjoiMDAwMC0wMDAwLTBLMDAtMlRDRy05TkFXIiwiciI6IjIwMjYtMTItMDZUMDk6MDA6MDAuNDEyWiIsInkiOiJFVVIiLCJtIjoyNTAsImgiOiIxOGUyZTU3ZGNlYjIwOTc2NjQ0OWI3MzkzZmFhMmY5Njc1ZWQxNTcyMzYyNjIzNTZlYTMxNmZjNzBiMzcxOGFiIiwiZyI6IkJFbEJDWk9qejNVSmpUOEZuNlJyYnpiU09CVnNWak8wa2FQSjhZaUhzWUtGQWRPdGpUa1lxRWx2U3Y4NlEyb1hUbm80UkhRTDBtOXcrbFg2SkJyYUNnPT0ifQ";

const body = {
  issuedAt: "2026-12-06T09:00:00.000Z",
  currency: "EUR",
  items: [{ name: "Espresso", quantity: 1, unitPrice: 250, total: 250 }],
  total: 250,
  payments: [{ method: "cash", amount: 250 }],
};
const terminal = { tenantId: "acme", storeId: "berlin-1", terminalId: "till-1" };
const cert = { ...terminal, publicKey: TERMINAL_PUB, notAfter: "2027-12-06T00:00:00.000Z" };
const signed = {
  ...terminal,
  terminalSeq: 7,
  signedAt: "2026-12-06T10:00:00+01:00",
  currency: "EUR",
  total: 250,
  bodyHash: BODY_HASH,
};
const qr = {
  code: "0000-0000-0K00-2TCG-9NAW",
  receivedAt: "2026-12-06T09:00:00.412Z",
  currency: "EUR",
  total: 250,
  hash: BODY_HASH,
};
const trusted = [fromBase64(GATEWAY_PUB) as Uint8Array];

/** The payload with one byte of its JSON changed (the same length, so it still decodes as base64url). */
function flipJson(payload: string, from: string, to: string): string {
  const json = Buffer.from(payload, "base64url").toString("utf8");
  expect(json).toContain(from);
  return Buffer.from(json.replace(from, to), "utf8").toString("base64url");
}

describe("signed texts and payloads (contract v1.2)", () => {
  it("sign byte for byte as the vectors (Ed25519 is deterministic)", async () => {
    expect(canonicalHash(body)).toBe(BODY_HASH);
    expect(await signText(await signingKey(seed(0)), certificateText(cert))).toBe(CERT_SIG);
    expect(await signText(await signingKey(seed(0x20)), offlineReceiptText(signed))).toBe(OFFLINE_SIG);
    expect(await signText(await signingKey(seed(0)), receiptQrText(qr))).toBe(QR_SIG);
  });

  it("encode to the vectors and decode back", () => {
    const offline = offlinePayload(
      signed,
      { publicKey: TERMINAL_PUB, certificate: CERT_SIG, notAfter: cert.notAfter },
      OFFLINE_SIG,
    );
    expect(encodePayload(offline)).toBe(OFFLINE_PAYLOAD);
    expect(decodeOfflinePayload(`https://receipts.example.com/o#${OFFLINE_PAYLOAD}`)).toEqual(offline);
    const q = signedQrPayload(qr, QR_SIG);
    expect(encodePayload(q)).toBe(QR_PAYLOAD);
    expect(decodeSignedQr(`https://x.example/r/CODE#${QR_PAYLOAD}`)).toEqual(q);
  });

  it("check with only the gateway's key pinned", async () => {
    const p = decodeOfflinePayload(OFFLINE_PAYLOAD);
    expect(p && (await checkOfflinePayload(p, trusted))).toEqual({
      certificate: true,
      signature: true,
      inValidity: true,
    });
    const q = decodeSignedQr(QR_PAYLOAD);
    expect(q && (await checkSignedQr(q, trusted))).toBe(true);
  });

  it("fail each signature for one changed byte", async () => {
    const check = async (payload: string) => {
      const p = decodeOfflinePayload(payload);
      if (!p) throw new Error("did not decode");
      return checkOfflinePayload(p, trusted);
    };
    // The total the customer sees: only the terminal's signature covers it.
    expect(await check(flipJson(OFFLINE_PAYLOAD, '"m":250', '"m":950'))).toMatchObject({
      certificate: true,
      signature: false,
    });
    // The terminal named: both break (the certificate binds it, and the signature covers it).
    expect(await check(flipJson(OFFLINE_PAYLOAD, '"d":"till-1"', '"d":"till-2"'))).toMatchObject({
      certificate: false,
      signature: false,
    });
    // The certificate's validity.
    expect(await check(flipJson(OFFLINE_PAYLOAD, '"e":"2027', '"e":"2028'))).toMatchObject({
      certificate: false,
      signature: true,
    });
    // A later signedAt than the certificate allows.
    expect(await check(flipJson(OFFLINE_PAYLOAD, '"a":"2026', '"a":"2028'))).toMatchObject({
      signature: false,
      inValidity: false,
    });
    for (const [from, to] of [
      ['"m":250', '"m":251'],
      ['"c":"0000', '"c":"0001'],
      ['"y":"EUR"', '"y":"USD"'],
      ['"h":"18e2', '"h":"18e3'],
    ] as const) {
      const q = decodeSignedQr(flipJson(QR_PAYLOAD, from, to));
      expect(q && (await checkSignedQr(q, trusted))).toBe(false);
    }
    // Another gateway key does not vouch for it.
    const q = decodeSignedQr(QR_PAYLOAD);
    expect(q && (await checkSignedQr(q, [fromBase64(TERMINAL_PUB) as Uint8Array]))).toBe(false);
  });

  it("refuse payloads that are not exactly the contract's", () => {
    expect(decodeOfflinePayload("not base64!")).toBeNull();
    expect(decodeOfflinePayload(`${OFFLINE_PAYLOAD}=`)).toBeNull();
    expect(decodeSignedQr(OFFLINE_PAYLOAD)).toBeNull(); // the other kind
    expect(decodeSignedQr(flipJson(QR_PAYLOAD, '"v":1', '"v":2'))).toBeNull();
  });
});

describe("the browser copy of the checks (core/offline-browser.ts), on the same vectors", () => {
  type Printed = { kind: "offline" | "qr"; p: Record<string, unknown> } | null;
  const lib = new Function(
    `${BROWSER_OFFLINE}; return { printedPayload, offlineChecks, qrSigned, ed25519Key, bytesOfBase64, amountText };`,
  )() as {
    printedPayload: (text: string) => Printed;
    offlineChecks: (
      p: Record<string, unknown>,
      keys: CryptoKey[],
    ) => Promise<{ certificate: boolean; signature: boolean; inValidity: boolean }>;
    qrSigned: (p: Record<string, unknown>, keys: CryptoKey[]) => Promise<boolean>;
    ed25519Key: (raw: Uint8Array | null) => Promise<CryptoKey | null>;
    bytesOfBase64: (s: string) => Uint8Array | null;
    amountText: (minor: number, currency: string) => string;
  };
  const keyOf = async (b64: string) => (await lib.ed25519Key(lib.bytesOfBase64(b64))) as CryptoKey;
  const reencoded = (p: Record<string, unknown>) =>
    Buffer.from(JSON.stringify(p)).toString("base64").replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

  it("shows an amount in its currency's own minor units, as the paper does", () => {
    expect(lib.amountText(390, "EUR")).toBe("3.90 EUR");
    expect(lib.amountText(1500, "JPY")).toBe("1500 JPY");
    expect(lib.amountText(1250, "KWD")).toBe("1.250 KWD");
    expect(lib.amountText(5, "CHF")).toBe("0.05 CHF");
  });

  it("reads both payloads, from a URL or alone, and nothing else", () => {
    expect(lib.printedPayload(`https://receipts.example/o#${OFFLINE_PAYLOAD}`)).toEqual({
      kind: "offline",
      p: decodeOfflinePayload(OFFLINE_PAYLOAD),
    });
    expect(lib.printedPayload(QR_PAYLOAD)).toEqual({ kind: "qr", p: decodeSignedQr(QR_PAYLOAD) });
    for (const bad of ["", "#", "#not-base64!", `#${reencoded({ v: 2 })}`, `#${reencoded({ v: 1, c: "x" })}`]) {
      expect(lib.printedPayload(bad), bad).toBeNull();
    }
    const offline = decodeOfflinePayload(OFFLINE_PAYLOAD) as Record<string, unknown>;
    expect(lib.printedPayload(reencoded({ ...offline, n: "7" }))).toBeNull(); // a number as text
    expect(lib.printedPayload(reencoded({ ...offline, a: "yesterday" }))).toBeNull();
  });

  it("accepts what the TypeScript checks accept, and refuses a changed amount, time or key", async () => {
    const gateway = [await keyOf(GATEWAY_PUB)];
    const offline = decodeOfflinePayload(OFFLINE_PAYLOAD) as Record<string, unknown>;
    expect(await lib.offlineChecks(offline, gateway)).toEqual({ certificate: true, signature: true, inValidity: true });
    expect((await lib.offlineChecks({ ...offline, m: 2500 }, gateway)).signature).toBe(false);
    expect((await lib.offlineChecks({ ...offline, e: "2099-01-01T00:00:00Z" }, gateway)).certificate).toBe(false);
    expect((await lib.offlineChecks({ ...offline, a: "2028-01-01T00:00:00Z" }, gateway)).inValidity).toBe(false);
    expect((await lib.offlineChecks(offline, [await keyOf(TERMINAL_PUB)])).certificate).toBe(false);
    const qr = decodeSignedQr(QR_PAYLOAD) as Record<string, unknown>;
    expect(await lib.qrSigned(qr, gateway)).toBe(true);
    expect(await lib.qrSigned({ ...qr, m: 249 }, gateway)).toBe(false);
    expect(await lib.qrSigned(qr, [])).toBe(false);
  });
});
