/**
 * The audit's refund check (contract v1.2): every refund and void points to a
 * sale of its own tenant, and no sale was given back more than it took, per
 * line or in total, nor voided twice or both voided and refunded. The ledger
 * arithmetic is the shards' own (core/refunds.ts), applied to what Postgres
 * holds, one page of originals at a time.
 */
import type pg from "pg";
import type { ChainRecord } from "../../../core/receipt.ts";
import { claimOf, type Hold, type Ledger, originalOf, remaining } from "../../../core/refunds.ts";
import { type RecordRow, recordColumns, recordFromRow } from "../../../db/receipts.ts";
import type { Problem } from "./shard-audit.ts";

const PAGE = 1_000;

type Child = {
  code: string;
  kind: string;
  tenant_id: string;
  currency: string;
  total: string;
  items: ChainRecord["items"];
};

/** One original and every refund and void that points to it, as a ledger would see them. */
export function problemsOf(original: ChainRecord | null, children: Child[], refersTo: string): Problem[] {
  const out: Problem[] = [];
  const kids = original ? children.filter((c) => c.tenant_id === original.tenantId) : [];
  for (const c of children) {
    if (!kids.includes(c) || (original?.kind ?? "sale") !== "sale") {
      out.push({
        kind: "refund",
        code: c.code,
        detail: `its ${c.kind} refers to ${refersTo}, which is not a sale of its tenant`,
      });
    }
  }
  if (!original || !kids.length || (original.kind ?? "sale") !== "sale") return out;
  const voids = kids.filter((c) => c.kind === "void");
  const refunds = kids.filter((c) => c.kind === "refund");
  if (voids.length > 1 || (voids.length && refunds.length)) {
    out.push({
      kind: "refund",
      code: original.code,
      detail: `voided ${voids.length} time(s) and refunded ${refunds.length} time(s)`,
    });
  }
  const ledger: Ledger = { original: originalOf(original), holds: [] };
  for (const r of refunds) {
    const claim = claimOf(ledger.original, r.items);
    if ("reason" in claim || r.currency !== original.currency) {
      out.push({ kind: "refund", code: r.code, detail: `gives back what ${original.code} did not sell` });
      continue;
    }
    const hold: Hold = {
      id: r.code,
      kind: "refund",
      bodyHash: "",
      claim,
      state: "confirmed",
      from: 0,
      attempt: 0,
      expiresAt: 0,
    };
    ledger.holds.push(hold);
  }
  const left = remaining(ledger);
  const over = [...left.lines.values()].filter((l) => l.quantity < 0 || l.amount < 0);
  if (left.total < 0 || over.length) {
    out.push({
      kind: "refund",
      code: original.code,
      detail: `given back more than it took: ${-Math.min(0, left.total)} over its total${over.map((l) => `; ${l.label}`).join("")}`,
    });
  }
  return out;
}

/**
 * Every refund and void in Postgres, grouped by original, checked; an original
 * no longer in Postgres is looked up in the archive. With several databases
 * (DATABASE_URLS) a refund may sit in another than its sale: each database's
 * refunds come in order of their original and are merged, and originals are
 * looked up in all of them.
 */
export async function refundProblems(
  pools: pg.Pool[],
  archived: (code: string) => Promise<ChainRecord | null> = async () => null,
): Promise<{ checked: number; problems: Problem[] }> {
  const problems: Problem[] = [];
  let checked = 0;
  const check = async (groups: { refers_to: string; children: Child[] }[]) => {
    const codes = groups.map((r) => r.refers_to);
    const originals = (
      await Promise.all(
        pools.map(
          async (pool) =>
            (
              await pool.query<RecordRow>(`SELECT ${recordColumns()} FROM receipts WHERE code = ANY ($1)`, [codes])
            ).rows,
        ),
      )
    ).flat();
    const byCode = new Map(originals.map((o) => [o.code.trim(), recordFromRow(o)]));
    for (const r of groups) {
      checked += r.children.length;
      const original = byCode.get(r.refers_to) ?? (await archived(r.refers_to));
      problems.push(...problemsOf(original, r.children, r.refers_to));
    }
  };
  let page: { refers_to: string; children: Child[] }[] = [];
  for await (const group of mergeByOriginal(pools.map(childrenByOriginal))) {
    page.push(group);
    if (page.length >= PAGE) {
      await check(page);
      page = [];
    }
  }
  if (page.length) await check(page);
  return { checked, problems };
}

type Group = { refers_to: string; children: Child[] };

/** One database's refunds and voids grouped by original, in order of the original's code, a page at a time. */
async function* childrenByOriginal(pool: pg.Pool): AsyncGenerator<Group> {
  let after = "";
  for (;;) {
    const { rows } = await pool.query<Group>(
      `SELECT refers_to, json_agg(json_build_object('code', code, 'kind', kind, 'tenant_id', tenant_id,
              'currency', currency, 'total', total, 'items', items) ORDER BY code) AS children
         FROM receipts WHERE refers_to IS NOT NULL AND refers_to > $1
        GROUP BY refers_to ORDER BY refers_to LIMIT ${PAGE}`,
      [after],
    );
    yield* rows;
    after = rows[rows.length - 1]?.refers_to ?? after;
    if (rows.length < PAGE) return;
  }
}

/** Ordered streams of groups merged into one, the groups of one original joined. */
async function* mergeByOriginal(streams: AsyncGenerator<Group>[]): AsyncGenerator<Group> {
  const heads = await Promise.all(streams.map((s) => s.next()));
  for (;;) {
    let least: string | null = null;
    for (const h of heads) if (!h.done && (least === null || h.value.refers_to < least)) least = h.value.refers_to;
    if (least === null) return;
    const children: Child[] = [];
    for (const [i, h] of heads.entries()) {
      if (h.done || h.value.refers_to !== least) continue;
      children.push(...h.value.children);
      heads[i] = await (streams[i] as AsyncGenerator<Group>).next();
    }
    yield { refers_to: least, children };
  }
}
