/** The receipt page (server-rendered; hono/jsx escapes every interpolated string). */
import type { ApiError } from "../../core/errors.ts";
import type { VerifiedReceipt } from "./lookup.ts";

const money = (minor: number, currency: string) => {
  const digits =
    new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  return new Intl.NumberFormat("en", { style: "currency", currency }).format(minor / 10 ** digits);
};

const Layout = (props: { title: string; children: unknown }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{props.title}</title>
    </head>
    <body>
      <main>{props.children}</main>
    </body>
  </html>
);

export function receiptPage(r: VerifiedReceipt) {
  const ok = r.status === "valid";
  return (
    <Layout title={`Receipt ${r.code}`}>
      <h1>{r.tenant.displayName}</h1>
      <p role="status">
        {ok ? (r.persisted ? "Verified" : "Verified (storage pending)") : "TAMPERED: this record was changed"}
      </p>
      <p>
        {r.store.name} · {r.issuedAt}
      </p>
      <ul>
        {r.items.map((i) => (
          <li>
            {i.quantity} × {i.name}: {money(i.total, r.currency)}
          </li>
        ))}
      </ul>
      <p>Total {money(r.total, r.currency)}</p>
      <p>
        Receipt {r.code} · seq {r.seq}
      </p>
    </Layout>
  );
}

export function errorPage(e: ApiError) {
  return (
    <Layout title="Receipt not found">
      <h1>{e.status === 404 ? "Receipt not found" : "Not a valid receipt code"}</h1>
      <p>{e.message}</p>
    </Layout>
  );
}
