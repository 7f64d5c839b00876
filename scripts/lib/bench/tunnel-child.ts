/**
 * The Neon WebSocket tunnel in a process of its own, so the load generator's
 * event loop never delays Postgres bytes and its CPU can be measured apart.
 * Usage: node tunnel-child.ts <host:port of Postgres>. Prints "PORT <n>" when
 * listening; exits when its parent closes stdin or sends SIGTERM.
 */
import { startTunnel } from "../stack/tunnel.ts";

const target = process.argv[2];
if (!target) {
  console.error("usage: tunnel-child.ts <host:port>");
  process.exit(2);
}
const tunnel = await startTunnel({ target, port: 0 });
process.stdout.write(`PORT ${tunnel.port}\n`);

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await Promise.race([tunnel.close(), new Promise((ok) => setTimeout(ok, 2000))]);
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => {}); // the parent decides when to stop
process.stdin.on("end", () => void stop());
process.stdin.on("error", () => void stop());
process.stdin.resume();
