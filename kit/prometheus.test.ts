import { describe, expect, it } from "vitest";
import { formatMetrics } from "./prometheus.ts";

describe("prometheus text format", () => {
  it("writes HELP, TYPE and samples with escaped labels", () => {
    const text = formatMetrics([
      {
        name: "tillproof_receipts_issued_total",
        help: "Receipts issued",
        type: "counter",
        samples: [
          { labels: { shard: 3 }, value: 12 },
          { labels: { shard: 'a"b\\c' }, value: 1 },
        ],
      },
      {
        name: "tillproof_postgres_up",
        help: "1 when Postgres answers",
        type: "gauge",
        samples: [{ value: Number.NaN }],
      },
    ]);
    expect(text).toBe(
      [
        "# HELP tillproof_receipts_issued_total Receipts issued",
        "# TYPE tillproof_receipts_issued_total counter",
        'tillproof_receipts_issued_total{shard="3"} 12',
        'tillproof_receipts_issued_total{shard="a\\"b\\\\c"} 1',
        "# HELP tillproof_postgres_up 1 when Postgres answers",
        "# TYPE tillproof_postgres_up gauge",
        "tillproof_postgres_up NaN",
        "",
      ].join("\n"),
    );
  });
});
