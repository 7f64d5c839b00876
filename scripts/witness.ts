/**
 * `npm run witness`: the shipped witness (witness/) at
 * http://127.0.0.1:${WITNESS_PORT:-8788}, that URL being its submission prefix.
 *
 *   WITNESS_KEY   its key (default: one generated once into .data/witness-key)
 *   WITNESS_LOGS  the logs it follows, JSON (default: the local gateway's, the
 *                 LOG_ORIGIN prefix and the key in .data/log-signing-key)
 *
 * It prints the WITNESSES entry a gateway needs. Its state stays in .data/witness/standalone.
 */
import { resolve } from "node:path";
import { localKey } from "./lib/log-key.ts";
import { assertPortFree } from "./lib/stack/ports.ts";
import { startWitness } from "./lib/stack/witness.ts";

const ROOT = resolve(import.meta.dirname, "..");
const DATA = resolve(process.env.TILLPROOF_DATA_DIR ?? resolve(ROOT, ".data"));
const PORT = Number(process.env.WITNESS_PORT ?? 8788);

async function main(): Promise<void> {
  await assertPortFree(PORT, "WITNESS_PORT");
  const logOrigin = process.env.LOG_ORIGIN ?? `localhost:${process.env.PORT ?? 8787}/log`;
  const keyName = logOrigin.split("/")[0] ?? "tillproof";
  const logs = process.env.WITNESS_LOGS
    ? (JSON.parse(process.env.WITNESS_LOGS) as { originPrefix: string; vkey: string }[])
    : [
        {
          originPrefix: `${logOrigin}/`,
          vkey: (await localKey("LOG_SIGNING_KEY", resolve(DATA, "log-signing-key"), keyName)).verifierKey,
        },
      ];
  const key = await localKey("WITNESS_KEY", resolve(DATA, "witness-key"), `${keyName}-witness`);
  const witness = await startWitness({
    key: key.privateKey,
    logs,
    port: PORT,
    persistTo: resolve(DATA, "witness", "standalone"),
    onLog: (line) => console.log(line),
  });
  console.log(`
  Witness up at ${witness.url}
  Cosigner vkey: ${witness.vkey}
  Follows:       ${logs.map((l) => `${l.originPrefix}* (${l.vkey})`).join("\n                 ")}

  A gateway uses it with:  WITNESSES='${witness.entry}'
  Ctrl-C stops it.
`);
  const stop = async () => {
    await witness.dispose();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

main().catch((e: Error) => {
  console.error(`\n[witness] ${e.message}\n`);
  process.exit(1);
});
