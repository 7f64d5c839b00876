/**
 * Prometheus text exposition (format 0.0.4) for /metrics: families of samples,
 * each with HELP and TYPE, labels escaped as the format says.
 */
export type Sample = { labels?: Record<string, string | number>; value: number };
export type Family = { name: string; help: string; type: "counter" | "gauge"; samples: Sample[] };

const escapeLabel = (v: string) => v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
const escapeHelp = (v: string) => v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");

function value(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

export function formatMetrics(families: Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(",")}}` : "";
      out.push(`${f.name}${l} ${value(s.value)}`);
    }
  }
  return `${out.join("\n")}\n`;
}
