/**
 * `npm run bench:witness [-- --samples N]`: what witnessing adds to the time
 * until a receipt is provable, i.e. until `GET /v1/verify/{code}` carries a
 * proof (which is always against the latest checkpoint that met the quorum).
 * Two local stacks at the product's default CHECKPOINT_MS: one with the
 * shipped witness (quorum 1, over HTTP to its own workerd), one without
 * (quorum 0: each signed checkpoint is served at once, the baseline). Each
 * sample issues one receipt on both at the same moment, at a random point of
 * the checkpoint cycle, and polls both every 20 ms. Prints p50 and p99 of each
 * and their difference: figures from one run on this machine.
 */
import { parseArgs } from "node:util";
import { callStack, type Stack, stackTerminal, startStack } from "./lib/stack/local.ts";

const { values } = parseArgs({ options: { samples: { type: "string", default: "60" } } });
const SAMPLES = Number(values.samples);
const POLL_MS = 20;
const say = (line: string) => console.log(`[bench:witness] ${line}`);
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

const vars = { CHECKPOINT_MS: "1000" };
const plain = await startStack({ vars });
// The second stack shares the first one's Postgres (each makes its own database).
process.env.TEST_DATABASE_URL ??= plain.databaseUrl;
const witnessed = await startStack({ vars, witness: true });
try {
  const stacks = [
    { name: "without a witness (baseline)", stack: plain, token: "", ms: [] as number[] },
    { name: "with the witness (quorum 1)", stack: witnessed, token: "", ms: [] as number[] },
  ];
  for (const s of stacks) s.token = await stackTerminal(s.stack, "bench-witness", "Bench Witness");

  const timeToProof = async (stack: Stack, token: string, i: number): Promise<number> => {
    const sale = {
      issuedAt: new Date().toISOString(),
      currency: "EUR",
      items: [{ name: "Tea", quantity: 1, unitPrice: 300, total: 300 }],
      total: 300,
      payments: [{ method: "cash", amount: 300 }],
    };
    const t0 = performance.now();
    const r = await callStack(stack, "POST", "/v1/receipts", token, sale, { "idempotency-key": `w-${i}` });
    if (r.status !== 201) throw new Error(`issue: ${r.status} ${JSON.stringify(r.body)}`);
    for (;;) {
      const v = (await callStack(stack, "GET", `/v1/verify/${r.body.code}`, "")).body as { proof?: unknown };
      if (v.proof) return performance.now() - t0;
      if (performance.now() - t0 > 30_000) throw new Error("no proof within 30 s");
      await sleep(POLL_MS);
    }
  };

  // Warm-up: one receipt each, not counted.
  await Promise.all(stacks.map((s) => timeToProof(s.stack, s.token, -1)));
  for (let i = 0; i < SAMPLES; i++) {
    await sleep(Math.random() * 1_000);
    const got = await Promise.all(stacks.map((s) => timeToProof(s.stack, s.token, i)));
    for (const [k, ms] of got.entries()) stacks[k]?.ms.push(ms);
    if ((i + 1) % 10 === 0) say(`${i + 1}/${SAMPLES} samples`);
  }
  const pct = (xs: number[], p: number) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;
  const [base, with1] = stacks.map((s) => ({ p50: pct(s.ms, 0.5), p99: pct(s.ms, 0.99) })) as [
    { p50: number; p99: number },
    { p50: number; p99: number },
  ];
  console.log(`
  one run, ${SAMPLES} receipts on each stack, CHECKPOINT_MS 1000, time from issuing to a proof in verify (ms):
                                   p50      p99
    ${stacks[0]?.name.padEnd(30)} ${base.p50.toFixed(0).padStart(6)}   ${base.p99.toFixed(0).padStart(6)}
    ${stacks[1]?.name.padEnd(30)} ${with1.p50.toFixed(0).padStart(6)}   ${with1.p99.toFixed(0).padStart(6)}
    witnessing adds                 ${(with1.p50 - base.p50).toFixed(0).padStart(6)}   ${(with1.p99 - base.p99).toFixed(0).padStart(6)}   (ratio ${(with1.p50 / base.p50).toFixed(2)}× at p50, ${(with1.p99 / base.p99).toFixed(2)}× at p99)
  (the witness here is one workerd on this machine; a witness across the internet adds its round trip)
`);
} finally {
  await witnessed.stop();
  await plain.stop();
}
