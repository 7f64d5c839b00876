/**
 * The independent check of a printed QR code (contract v1.2), with nothing
 * but pinned keys: an offline receipt's `/o` payload (the gateway's
 * certificate, the till's signature, the validity) or a receipt's `signedQr`
 * (the gateway's signature over code, time, amount and hash). No network.
 */
import { checkOfflinePayload, checkSignedQr, decodeOfflinePayload, decodeSignedQr } from "../../core/offline.ts";
import { parseVerifierKey } from "../../tlog/note.ts";

export type PrintedCheck =
  | { kind: "offline"; ok: boolean; lines: string[] }
  | { kind: "signedQr"; ok: boolean; lines: string[] }
  | { kind: "unreadable"; ok: false; lines: string[] };

const mark = (ok: boolean) => (ok ? "ok  " : "FAIL");

export async function checkPrinted(text: string, vkeys: string[]): Promise<PrintedCheck> {
  const verifiers = await Promise.all(vkeys.map(parseVerifierKey));
  const bad = vkeys.filter((_, i) => !verifiers[i]);
  if (bad.length) return { kind: "unreadable", ok: false, lines: [`not a verifier key: ${bad.join(" ")}`] };
  const trusted = verifiers.flatMap((v) => (v ? [v.publicKey] : []));
  const offline = decodeOfflinePayload(text.trim());
  if (offline) {
    const c = await checkOfflinePayload(offline, trusted);
    const money = `${offline.m} (minor units) ${offline.c}`;
    return {
      kind: "offline",
      ok: c.certificate && c.signature && c.inValidity,
      lines: [
        `offline receipt ${offline.n} of ${offline.t}/${offline.s}/${offline.d}, signed ${offline.a}, ${money}`,
        `${mark(c.certificate)} certificate: the gateway certified this till's key until ${offline.e}`,
        `${mark(c.signature)} signature: the till signed this receipt, total and time`,
        `${mark(c.inValidity)} signed within the certificate's validity`,
      ],
    };
  }
  const qr = decodeSignedQr(text.trim());
  if (qr) {
    const ok = await checkSignedQr(qr, trusted);
    return {
      kind: "signedQr",
      ok,
      lines: [
        `receipt ${qr.c}, received ${qr.r}, ${qr.m} (minor units) ${qr.y}, hash ${qr.h}`,
        `${mark(ok)} the gateway signed exactly this code, time, amount and hash`,
      ],
    };
  }
  return { kind: "unreadable", ok: false, lines: ["not a Tillproof QR payload (neither /o nor signedQr)"] };
}
