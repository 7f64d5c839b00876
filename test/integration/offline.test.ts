/**
 * Offline receipts end to end in workerd against Postgres (contract v1.2):
 * a terminal registers its key and gets a certificate; receipts it signed
 * offline register through the batch endpoint with the replay, conflict, gap
 * and late rules; every answer carries a signed QR; the registered receipt is
 * found by its terminal's sequence; the operator sees the gaps, the late one
 * and the backlog.
 */
import { describe, expect, it } from "vitest";
import { canonicalHash } from "../../core/canonical.ts";
import {
  certificateText,
  checkSignedQr,
  decodeSignedQr,
  offlineReceiptText,
  signText,
  verifyText,
} from "../../core/offline.ts";
import { fromBase64, toBase64 } from "../../kit/base64.ts";
import { parseSigningKey, parseVerifierKey } from "../../tlog/note.ts";
import {
  call,
  compact,
  eventually,
  type Fixture,
  fixture,
  OPERATOR_TOKEN,
  sale,
  sqlQuery,
  useShardBand,
} from "./helpers.ts";

useShardBand(18);

/** The private half of vitest.config.ts TEST_RETIRED_CERT_VKEY: a certificate key "rotated out". */
const TEST_RETIRED_CERT_KEY =
  "PRIVATE+KEY+tillproof.test-retired+46cc0666+AbrNVu4OVQ9s1tBiQSqbwnE59FLiupkaNdi11u2DS5u0";

type Till = { token: string; publicKey: string; key: CryptoKey; certificate: string; notAfter: string };
type Result = {
  status: number;
  receipt?: Record<string, unknown> & { code: string; signedQr?: string };
  error?: { code: string };
};

/** A terminal with an Ed25519 key of its own, registered in the fixture's store. */
async function till(f: Fixture, id: string): Promise<Till> {
  const pair = (await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"])) as CryptoKeyPair;
  const publicKey = toBase64(new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer));
  const r = await call<{ token: string; certificate: string; notAfter: string }>(
    "POST",
    `/v1/tenants/${f.tenantId}/stores/${f.storeId}/terminals`,
    { token: f.apiKey, body: { id, publicKey } },
  );
  expect(r.status, r.text).toBe(201);
  return { publicKey, key: pair.privateKey, ...r.body };
}

/** A batch entry the terminal signed offline (`body` is what it signs; `as` what it sends, if different). */
async function offlineEntry(
  f: Fixture,
  t: { key: CryptoKey; id: string },
  seq: number,
  body: Record<string, unknown>,
  signedAt: string,
  as?: Record<string, unknown>,
) {
  const text = offlineReceiptText({
    tenantId: f.tenantId,
    storeId: f.storeId,
    terminalId: t.id,
    terminalSeq: seq,
    signedAt,
    currency: String(body.currency),
    total: Number(body.total),
    bodyHash: canonicalHash(body),
  });
  const signature = await signText(t.key, text);
  return {
    ...(as ?? body),
    idempotencyKey: `k-${crypto.randomUUID()}`,
    offline: { terminalSeq: seq, signedAt, signature },
  };
}

const batch = (token: string, receipts: unknown[], headers: Record<string, string> = {}) =>
  call<{ results: Result[] }>("POST", "/v1/receipts/batch", { token, body: { receipts }, headers });

const witnesses = () =>
  call<{ terminalCertKey: string; retiredTerminalCertKeys: string[]; quorum: number; witnesses: unknown[] }>(
    "GET",
    "/v1/log/witnesses",
  );

/** The raw public keys a checker pins: the current certificate key and the retired ones. */
async function pinned(): Promise<Uint8Array[]> {
  const w = (await witnesses()).body;
  const keys = await Promise.all([w.terminalCertKey, ...w.retiredTerminalCertKeys].map(parseVerifierKey));
  return keys.flatMap((k) => (k ? [k.publicKey] : []));
}

describe("terminal keys and certificates", () => {
  it("registers a key and answers with a certificate the published key checks", async () => {
    const f = await fixture();
    const t = await till(f, "till-k");
    const w = await witnesses();
    expect(w.status).toBe(200);
    expect(w.body).toMatchObject({ quorum: 0, witnesses: [] });
    const certKey = await parseVerifierKey(w.body.terminalCertKey);
    if (!certKey) throw new Error("no terminalCertKey");
    const text = certificateText({
      tenantId: f.tenantId,
      storeId: f.storeId,
      terminalId: "till-k",
      publicKey: t.publicKey,
      notAfter: t.notAfter,
    });
    expect(await verifyText(certKey.publicKey, fromBase64(t.certificate) as Uint8Array, text)).toBe(true);
    expect(Date.parse(t.notAfter)).toBeGreaterThan(Date.now() + 300 * 86_400_000);
    const [row] = await sqlQuery<{ public_key: string; cert_not_after: Date }>(
      "SELECT public_key, cert_not_after FROM terminals WHERE tenant_id = $1 AND id = 'till-k'",
      [f.tenantId],
    );
    expect(row?.public_key).toBe(t.publicKey);
    expect(row?.cert_not_after.toISOString()).toBe(t.notAfter);
  });

  it("refuses a key that is not 32 bytes of standard base64", async () => {
    const f = await fixture();
    for (const publicKey of ["abc", toBase64(new Uint8Array(31)), toBase64(new Uint8Array(32)).replace("=", "")]) {
      const r = await call<{ error: { code: string; details: { path: string }[] } }>(
        "POST",
        `/v1/tenants/${f.tenantId}/stores/${f.storeId}/terminals`,
        { token: f.apiKey, body: { id: "till-bad", publicKey } },
      );
      expect(r.status, publicKey).toBe(400);
      expect(r.body.error.code).toBe("validation_failed");
      expect(r.body.error.details[0]?.path).toBe("publicKey");
    }
  });

  it("keeps what a rotated-out key signed checkable: it is published as retired", async () => {
    const old = await parseSigningKey(TEST_RETIRED_CERT_KEY);
    const text = certificateText({
      tenantId: "acme",
      storeId: "s",
      terminalId: "t",
      publicKey: toBase64(new Uint8Array(32)),
      notAfter: "2027-01-01T00:00:00Z",
    });
    const sig = fromBase64(await signText(old.key, text)) as Uint8Array;
    const keys = await pinned();
    expect(keys).toHaveLength(2);
    const checks = await Promise.all(keys.map((k) => verifyText(k, sig, text)));
    expect(checks).toEqual([false, true]); // the current key did not sign it; the retired one did
  });
});

describe("registering offline receipts", () => {
  it("registers in order, each once: replays, a conflict, a gap, a late one, and finds each by its sequence", async () => {
    const f = await fixture();
    const t = await till(f, "till-o");
    const signer = { key: t.key, id: "till-o" };
    const now = Date.now();
    const at = (hoursAgo: number) => new Date(now - hoursAgo * 3_600_000).toISOString();
    const bodies = [1, 2, 3].map((i) => sale({ issuedAt: at(80 - i), cashier: `offline-${i}` }));
    const e1 = await offlineEntry(f, signer, 1, bodies[0] as Record<string, unknown>, at(73)); // late
    const e2 = await offlineEntry(f, signer, 2, bodies[1] as Record<string, unknown>, at(2));
    const e4 = await offlineEntry(f, signer, 4, bodies[2] as Record<string, unknown>, at(1)); // 3 is missing
    const first = await batch(t.token, [e1, e2, e4], { "tillproof-offline-backlog": `5; since=${at(73)}` });
    expect(first.status, first.text).toBe(200);
    expect(first.body.results.map((r) => r.status)).toEqual([201, 201, 201]);
    const [r1, r2, r4] = first.body.results.map((r) => r.receipt) as NonNullable<Result["receipt"]>[];
    expect(r1?.late).toBe(true);
    expect(r2?.late).toBeUndefined();

    // The same sequence, body and signature under another key: the identical answer.
    const again = await batch(t.token, [{ ...e2, idempotencyKey: "another-key" }]);
    expect(again.body.results[0]?.status).toBe(200);
    expect(again.body.results[0]?.receipt).toEqual(r2);
    // The same sequence with another (properly signed) body: refused, before any key is looked at.
    const other = await offlineEntry(f, signer, 2, sale({ issuedAt: at(3), cashier: "someone else" }), at(2));
    const conflict = await batch(t.token, [{ ...other, idempotencyKey: e2.idempotencyKey }]);
    expect(conflict.body.results[0]).toMatchObject({ status: 409, error: { code: "offline_seq_conflict" } });

    // Kept in the hashed record; verify finds each by its terminal's sequence.
    const byCode = await call<{ offline: unknown; late?: boolean; code: string }>("GET", `/v1/verify/${r1?.code}`);
    expect(byCode.body.offline).toEqual(e1.offline);
    expect(byCode.body.late).toBe(true);
    const path = (n: number) => `/v1/verify/offline/${f.tenantId}/${f.storeId}/till-o/${n}`;
    const bySeq = await call<{ code: string }>("GET", path(4));
    expect(bySeq.status).toBe(200);
    expect(bySeq.body.code).toBe(r4?.code);
    const missing = await call<{ error: { code: string } }>("GET", path(3));
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("not_registered");
    expect((await call("GET", `/v1/verify/offline/${f.tenantId}/nowhere/till-o/1`)).status).toBe(404);
    expect((await call("GET", path(0))).status).toBe(400);
    // An id no store can have is the client's mistake, answered without asking Postgres (a NUL byte it would refuse).
    for (const bad of ["%00", "UPPER", "a", "x".repeat(70)]) {
      const r = await call<{ error: { code: string } }>("GET", `/v1/verify/offline/${bad}/${f.storeId}/till-o/1`);
      expect(r.status, bad).toBe(400);
      expect(r.body.error.code).toBe("invalid_id");
    }
    const nul = await call<{ error: { code: string } }>(
      "GET",
      `/v1/verify/offline/${f.tenantId}/${f.storeId}/till%00/1`,
    );
    expect(nul.status).toBe(400);
    // And Postgres keeps it: the record rebuilt from its row hashes as the shard hashed it.
    const persisted = await eventually(async () => {
      const v = await call<{ persisted: boolean; status: string; offline: unknown; late?: boolean }>(
        "GET",
        `/v1/verify/${r1?.code}`,
      );
      return v.body.persisted ? v.body : null;
    });
    expect(persisted).toMatchObject({ status: "valid", offline: e1.offline, late: true });
    const [row] = await sqlQuery<{ offline: unknown; late: boolean }>(
      "SELECT offline, late FROM receipts WHERE code = $1",
      [compact(String(r1?.code))],
    );
    expect(row).toEqual({ offline: e1.offline, late: true });

    // The operator sees the gap, the late receipt and the backlog reported.
    const status = await call<{
      alerts: string[];
      shards: {
        offline: {
          gaps: number;
          late: number;
          backlog: number;
          terminals: { terminal: string; gaps: number; late: number; backlog: number; overBudget: boolean }[];
        };
      }[];
    }>("GET", "/v1/ops/status", { token: OPERATOR_TOKEN });
    const mine = status.body.shards
      .flatMap((s) => s.offline.terminals)
      .find((x) => x.terminal === `${f.tenantId}/${f.storeId}/till-o`);
    expect(mine).toMatchObject({ gaps: 1, late: 1, backlog: 5, overBudget: true });
    expect(status.body.alerts.join("\n")).toMatch(/offline longer than OFFLINE_MAX_HOURS/);
    const metrics = await call("GET", "/metrics", { token: OPERATOR_TOKEN });
    expect(metrics.text).toMatch(/tillproof_offline_gaps\{shard="\d+"\} [1-9]/);
    expect(metrics.text).toMatch(/tillproof_offline_late_total\{shard="\d+"\} [1-9]/);
  });

  it("refuses a bad signature, a terminal without a key, and a body whose total is not the one signed", async () => {
    const f = await fixture();
    const t = await till(f, "till-s");
    const signer = { key: t.key, id: "till-s" };
    const body = sale() as Record<string, unknown>;
    const good = await offlineEntry(f, signer, 1, body, new Date().toISOString());
    const forged = { ...good, offline: { ...good.offline, signature: toBase64(new Uint8Array(64)) } };
    const cheaper = sale({
      items: [{ name: "Espresso", quantity: 1, unitPrice: 250, total: 250 }],
      total: 250,
      payments: [{ method: "card", amount: 250 }],
    });
    const swapped = await offlineEntry(f, signer, 2, body, new Date().toISOString(), cheaper);
    const noKey = await offlineEntry(f, signer, 1, body, new Date().toISOString());
    const plainTill = await call<{ token: string }>("POST", `/v1/tenants/${f.tenantId}/stores/${f.storeId}/terminals`, {
      token: f.apiKey,
      body: { id: "till-plain" },
    });
    const r = await batch(t.token, [forged, swapped]);
    expect(r.body.results.map((x) => [x.status, x.error?.code])).toEqual([
      [400, "invalid_offline_signature"],
      [400, "invalid_offline_signature"],
    ]);
    const plain = await batch(plainTill.body.token, [noKey]);
    expect(plain.body.results[0]).toMatchObject({ status: 400, error: { code: "invalid_offline_signature" } });
    // Nothing was spent: the good one still registers as 1.
    const ok = await batch(t.token, [good]);
    expect(ok.body.results[0]?.status).toBe(201);
    // Offline only through the batch; a malformed backlog header is the client's mistake.
    const single = await call<{ error: { code: string } }>("POST", "/v1/receipts", {
      token: t.token,
      body: { ...body, offline: good.offline },
      headers: { "idempotency-key": "single-offline" },
    });
    expect(single.status).toBe(400);
    expect(single.body.error.code).toBe("validation_failed");
    const header = await batch(t.token, [good], { "tillproof-offline-backlog": "lots" });
    expect(header.status).toBe(400);
  });
});

describe("the signed QR code on every receipt", () => {
  it("checks with only the published key, and a replay carries the same", async () => {
    const f = await fixture();
    const key = `qr-${crypto.randomUUID()}`;
    const first = await call<{ code: string; verifyUrl: string; signedQr: string; hash: string; receivedAt: string }>(
      "POST",
      "/v1/receipts",
      { token: f.token, body: sale(), headers: { "idempotency-key": key } },
    );
    expect(first.status).toBe(201);
    expect(first.body.signedQr.startsWith(`${first.body.verifyUrl}#`)).toBe(true);
    const payload = decodeSignedQr(first.body.signedQr);
    expect(payload).toMatchObject({
      v: 1,
      c: first.body.code,
      r: first.body.receivedAt,
      y: "EUR",
      m: 680,
      h: first.body.hash,
    });
    expect(payload && (await checkSignedQr(payload, await pinned()))).toBe(true);
    const replay = await call<{ signedQr: string }>("POST", "/v1/receipts", {
      token: f.token,
      body: sale(),
      headers: { "idempotency-key": key },
    });
    expect(replay.status).toBe(200);
    expect(replay.body.signedQr).toBe(first.body.signedQr);
  });
});
