/** The draws a verified receipt takes part in, as its page shows them. */
import type { VerifiedReceipt } from "../../api/responses.ts";
import { countedTotal, prizeFor } from "../../core/lottery.ts";
import { drawsFor } from "../../db/lottery.ts";
import { type Ctx, pg } from "../http.ts";

/** A draw this receipt takes part in, for the page: drawn or not, and its prize if it won. */
export type LotteryEntry = {
  id: string;
  title: string;
  closesAt: string;
  drawn: boolean;
  prize: { prize: number; name: string } | null;
};

/** The draws a verified receipt takes part in, for its page (with its prize once drawn). */
export async function lotteryFor(c: Ctx, r: VerifiedReceipt): Promise<LotteryEntry[]> {
  // Refunds, voids and voided sales take no part; a refunded sale counts net (per draw: refunds before its close).
  if (countedTotal(r, Number.POSITIVE_INFINITY) === null) return [];
  const draws = await drawsFor(pg(c).db, {
    receivedAt: r.receivedAt,
    total: r.total,
    currency: r.currency,
    tenantId: r.tenant.id,
  });
  return draws
    .filter((d) => (countedTotal(r, Date.parse(d.closesAt)) ?? -1) >= d.minTotal)
    .map((d) => ({
      id: d.id,
      title: d.title,
      closesAt: d.closesAt,
      drawn: d.result !== null,
      prize: d.result ? prizeFor(r.code.replaceAll("-", ""), d.result.winning) : null,
    }));
}
