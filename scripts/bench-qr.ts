/**
 * `npm run bench:qr`: what signing every printed QR costs (contract v1.2
 * "Every printed QR"), measured in one run:
 *   1. the QR texts' sizes and the QR versions they need (error correction L and M);
 *   2. the Ed25519 signature's CPU per receipt, as a ratio to hashing the
 *      receipt's record (the work issuing already does), and its price;
 *   3. issuance latency with and without signing: two local stacks, one with
 *      TERMINAL_CERT_KEY and one without, asked in alternation from 2
 *      closed-loop connections each, so both see the same machine.
 * Figures vary between machines; the ratios are what to compare.
 */
import { encode } from "uqr";
import { canonicalJson } from "../core/canonical.ts";
import {
  encodePayload,
  offlinePayload,
  offlineReceiptText,
  receiptQrText,
  signedQrPayload,
  signText,
} from "../core/offline.ts";
import { sha256Hex } from "../kit/crypto.ts";
import { generateSigningKey, parseSigningKey } from "../tlog/note.ts";
import { PRICES } from "./lib/bench/prices.ts";
import { callStack, OPERATOR_TOKEN, type Stack, startStack } from "./lib/stack/local.ts";

const N = Number(process.argv[2] ?? 400);
const BASE = "https://receipts.example.com";
const CODE = "0K3F-7Q2M-9WXD-4B8R-TC1N";

const versions = (text: string) =>
  `${text.length} characters, QR version ${encode(text, { ecc: "L" }).version} at ECC L, ${encode(text, { ecc: "M" }).version} at M`;

async function sizes(): Promise<void> {
  const key = (await parseSigningKey((await generateSigningKey("receipts.example.com")).privateKey)).key;
  const qr = {
    code: CODE,
    receivedAt: "2026-12-06T09:15:00.412Z",
    currency: "EUR",
    total: 123456,
    hash: "9f2c1b7e3d4a5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd",
  };
  const url = `${BASE}/r/${CODE}`;
  const signedQr = `${url}#${encodePayload(signedQrPayload(qr, await signText(key, receiptQrText(qr))))}`;
  const offline = {
    tenantId: "acme-retail",
    storeId: "berlin-mitte-042",
    terminalId: "till-07",
    terminalSeq: 12345,
    signedAt: "2026-12-06T10:15:00.123+01:00",
    currency: "EUR",
    total: 123456,
    bodyHash: qr.hash,
  };
  const cert = {
    publicKey: "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=",
    certificate: "A".repeat(86) + "==",
    notAfter: "2027-12-06T10:15:00.000Z",
  };
  const sig = await signText(key, offlineReceiptText(offline));
  const o = `${BASE}/o#${encodePayload(offlinePayload(offline, cert, sig))}`;
  console.log("QR texts (base https://receipts.example.com):");
  console.log(`  verify URL only (before v1.2): ${versions(url)}`);
  console.log(`  signedQr:                      ${versions(signedQr)}`);
  console.log(`  offline /o:                    ${versions(o)}`);
}

async function cpu(): Promise<void> {
  const key = (await parseSigningKey((await generateSigningKey("bench.qr")).privateKey)).key;
  const record = {
    v: 1,
    code: CODE.replaceAll("-", ""),
    tenantId: "acme-retail",
    storeId: "berlin-mitte-042",
    terminalId: "till-07",
    seq: 4242,
    issuedAt: "2026-12-06T09:15:00.000Z",
    receivedAt: "2026-12-06T09:15:00.412Z",
    currency: "EUR",
    total: 680,
    items: [
      { name: "Espresso", sku: "A1", quantity: 2, unitPrice: 250, taxRate: 7, total: 500 },
      { name: "Croissant", quantity: 1, unitPrice: 180, taxRate: 7, total: 180 },
    ],
    payments: [{ method: "card", amount: 680 }],
    kind: "sale",
    prevHash: "0".repeat(64),
  };
  const rounds = 3_000;
  let t = performance.now();
  for (let i = 0; i < rounds; i++) sha256Hex(canonicalJson({ ...record, seq: i }));
  const hashUs = ((performance.now() - t) * 1000) / rounds;
  t = performance.now();
  for (let i = 0; i < rounds; i++) {
    await signText(
      key,
      receiptQrText({ code: CODE, receivedAt: record.receivedAt, currency: "EUR", total: i, hash: record.prevHash }),
    );
  }
  const signUs = ((performance.now() - t) * 1000) / rounds;
  const perMillion = (signUs / 1000) * PRICES.workersCpu.usd; // µs → CPU-ms per receipt, × $ per million CPU-ms
  console.log(`CPU per receipt (Node ${process.version}, ${rounds} rounds):`);
  console.log(`  record canonical JSON + SHA-256 (baseline): ${hashUs.toFixed(1)} µs`);
  console.log(
    `  signedQr Ed25519 signature:                 ${signUs.toFixed(1)} µs (${(signUs / hashUs).toFixed(1)}× the baseline)`,
  );
  console.log(`  at $${PRICES.workersCpu.usd} per million CPU-ms: $${perMillion.toFixed(4)} per million receipts`);
}

type Terminal = { stack: Stack; token: string };

async function terminalOn(stack: Stack): Promise<Terminal> {
  const id = `q${Date.now().toString(36)}`;
  const t = await callStack(stack, "POST", "/v1/tenants", OPERATOR_TOKEN, { id, name: "QR bench" });
  await callStack(stack, "PUT", `/v1/tenants/${id}/stores/main`, t.body.apiKey ?? "", {
    name: "Main",
    timezone: "Europe/Berlin",
  });
  const r = await callStack(stack, "POST", `/v1/tenants/${id}/stores/main/terminals`, t.body.apiKey ?? "", {
    id: "till-1",
  });
  return { stack, token: r.body.token ?? "" };
}

const body = JSON.stringify({
  issuedAt: new Date().toISOString(),
  currency: "EUR",
  items: [{ name: "Espresso", quantity: 1, unitPrice: 250, total: 250 }],
  total: 250,
  payments: [{ method: "card", amount: 250 }],
});

async function timeOne(t: Terminal): Promise<number> {
  const start = performance.now();
  const res = await fetch(`${t.stack.baseUrl}/v1/receipts`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${t.token}`,
      "content-type": "application/json",
      "idempotency-key": crypto.randomUUID(),
    },
    body,
  });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`issue: ${res.status}`);
  return performance.now() - start;
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? Number.NaN;

async function latency(): Promise<void> {
  const signing = await startStack();
  // The second stack shares the first one's Postgres server (a database of its own).
  process.env.TEST_DATABASE_URL ??= signing.databaseUrl;
  const plain = await startStack({ vars: { TERMINAL_CERT_KEY: "" } });
  try {
    const a = await terminalOn(signing);
    const b = await terminalOn(plain);
    for (let i = 0; i < 30; i++) await Promise.all([timeOne(a), timeOne(b)]); // warm both
    const with_: number[] = [];
    const without: number[] = [];
    // Two closed-loop connections per stack, the stacks in alternation: each sample pair sees the same moment.
    const loop = async () => {
      for (let i = 0; i < N / 2; i++) {
        with_.push(await timeOne(a));
        without.push(await timeOne(b));
      }
    };
    await Promise.all([loop(), loop()]);
    const line = (label: string, xs: number[]) =>
      `  ${label}: p50 ${pct(xs, 0.5).toFixed(2)} ms, p99 ${pct(xs, 0.99).toFixed(2)} ms`;
    console.log(`Issuance latency, ${N} receipts each, 2 connections per stack, in alternation:`);
    console.log(line("without signedQr (TERMINAL_CERT_KEY unset)", without));
    console.log(line("with signedQr                            ", with_));
    console.log(
      `  added: p50 ${(pct(with_, 0.5) - pct(without, 0.5)).toFixed(2)} ms (${(pct(with_, 0.5) / pct(without, 0.5)).toFixed(3)}×), p99 ${(pct(with_, 0.99) - pct(without, 0.99)).toFixed(2)} ms (${(pct(with_, 0.99) / pct(without, 0.99)).toFixed(3)}×)`,
    );
  } finally {
    await plain.stop(); // first: it uses the other stack's Postgres server
    await signing.stop();
  }
}

console.log(`bench:qr at ${new Date().toISOString()}`);
await sizes();
await cpu();
await latency();
