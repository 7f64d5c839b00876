/**
 * Verify of persisted receipts: every code once (the origin path, Postgres),
 * then a small hot set over and over (the edge cache, VERIFY_EDGE_CACHE=on).
 */
import type { BenchRun } from "../run.ts";

export async function verifyPersisted(b: BenchRun, codes: string[]) {
  const pick = (list: string[]) => () => ({
    method: "GET" as const,
    path: `/v1/verify/${list[Math.floor(b.r() * list.length)]}`,
  });
  let unpersistedSeen = 0;
  let persistedSeen = 0;
  b.say("verify, persisted, each code once (origin: Postgres): GET /v1/verify/{code}, saturation");
  const shuffled = [...codes].sort(() => b.r() - 0.5);
  let cursor = 0;
  const verifyPersisted = await b.phase({
    label: "verify, persisted",
    url: b.base,
    connections: 8,
    durationSec: Math.max(5, b.o.phaseSec - 2),
    maxRequests: shuffled.length,
    next: () => ({ method: "GET", path: `/v1/verify/${shuffled[cursor++ % shuffled.length]}` }),
    onBody: (status, body) => {
      if (status !== 200) return;
      if (body.includes('"persisted":true')) persistedSeen++;
      else unpersistedSeen++;
    },
  });
  const persistedCheck = { persisted: persistedSeen, unpersisted: unpersistedSeen };
  b.say("verify, persisted, 64 hot codes (edge cache): GET /v1/verify/{code}, saturation");
  const hot = shuffled.slice(0, 64);
  const verifyCached = await b.phase({
    label: "verify, cached",
    url: b.base,
    connections: 8,
    durationSec: 5,
    maxRequests: 200_000,
    next: pick(hot),
  });
  return { verifyPersisted, persistedCheck, verifyCached };
}
