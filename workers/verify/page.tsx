/**
 * The receipt page a customer reaches from the printed QR code: server-rendered,
 * no scripts, no third-party requests, one inline stylesheet.
 *
 * Safety: hono/jsx escapes every interpolated string and attribute, and nothing
 * tenant-, store-, terminal- or item-supplied is ever passed as raw HTML. The one
 * raw fragment is the QR code's SVG, which kit/qr-svg.ts builds from our own signed QR text.
 */

import { raw } from "hono/html";
import type { Child } from "hono/jsx";
import type { MissingReceipt, Proof } from "../../api/responses.ts";
import type { Branding } from "../../core/branding.ts";
import { formatDateTime, formatMoney, formatQuantity } from "../../kit/format.ts";
import { inlineJson } from "../../kit/inline-json.ts";
import { qrSvg } from "../../kit/qr-svg.ts";
import type { Verification } from "../shared/lookup.ts";
import type { LotteryEntry } from "../shared/lottery-entries.ts";
import { Document, type Page, render } from "../shared/page-shell.tsx";
import { NEUTRAL, type Palette, pageCss, palette } from "../shared/page-style.ts";
import { LOG_CHECK_SCRIPT_HASH, LOG_CHECK_SCRIPT_URL } from "./log-check.ts";

const BrandHeader = (props: { branding: Pick<Branding, "displayName" | "logoUrl"> }) => (
  <header class="brand">
    {props.branding.logoUrl?.startsWith("https://") ? (
      // The name is right beside it, so the logo is decorative for screen readers.
      <img src={props.branding.logoUrl} alt="" decoding="async" referrerpolicy="no-referrer" />
    ) : null}
    <p class="brand-name">{props.branding.displayName}</p>
  </header>
);

const SupportLink = (props: { url: string | undefined; children: Child }) =>
  props.url?.startsWith("https://") ? (
    <a href={props.url} rel="noopener noreferrer">
      {props.children}
    </a>
  ) : null;

type State = "ok" | "pending" | "bad";

/** The unmistakable red banner: a tampered receipt, or one whose record is gone. */
const AlarmBanner = (props: { title: string; children: Child }) => (
  <section class="state state-bad" role="alert" aria-labelledby="state-title">
    <span class="icon" aria-hidden="true">
      ⚠
    </span>
    <div>
      <h1 id="state-title">{props.title}</h1>
      {props.children}
    </div>
  </section>
);

const StateBanner = (props: { state: State; branding: Branding; voided: boolean }) => {
  if (props.state === "bad") {
    return (
      <AlarmBanner title="TAMPERED">
        <p>
          <strong>Do not trust this receipt.</strong> Its stored record was changed after it was issued: it no longer
          matches the fingerprint (hash) it was registered with, or no longer links to the store's previous receipt. The
          details below are what is stored now and may be false.
        </p>
        {props.branding.supportUrl ? (
          <p>
            <SupportLink url={props.branding.supportUrl}>Report it to {props.branding.displayName}</SupportLink>
          </p>
        ) : null}
      </AlarmBanner>
    );
  }
  const pending = props.state === "pending";
  return (
    <section class={`state state-${props.state}`} role="status" aria-labelledby="state-title">
      <span class="icon" aria-hidden="true">
        ✓
      </span>
      <div>
        <h1 id="state-title">
          {props.voided ? "Verified — but voided" : pending ? "Verified — storage pending" : "Verified"}
        </h1>
        <p>
          {props.voided
            ? "This receipt is registered and unchanged, but the sale was cancelled at the till: it no longer counts."
            : pending
              ? "This receipt was registered moments ago and is unchanged. It is still on its way to long-term storage; reload in a minute to see it final."
              : "This receipt is registered and unchanged since it was issued."}
        </p>
      </div>
    </section>
  );
};

const PAYMENT_LABELS: Record<string, string> = { cash: "Cash", card: "Card", other: "Other" };

type Receipt = Extract<Verification["receipt"], { tenant: unknown }>;

const ReceiptLink = (props: { code: string }) => (
  <a href={`/r/${props.code}`} class="code">
    {props.code}
  </a>
);

/**
 * What this receipt is beside a plain sale, in a shopper's words (contract
 * v1.2): a refund or a void links to its sale; a sale links to its refunds
 * and its void.
 */
const KindNote = (props: { r: Receipt; money: (minor: number) => string; when: (iso: string) => string }) => {
  const { r, money, when } = props;
  if (r.kind === "refund") {
    return (
      <section class="kind kind-refund" data-kind="refund" aria-labelledby="kind-title">
        <h2 id="kind-title">Refund</h2>
        <p>
          This receipt records {money(r.total)} given back
          {r.refersTo ? (
            <>
              {" "}
              for the purchase on receipt <ReceiptLink code={r.refersTo} />.
            </>
          ) : (
            " without an original receipt."
          )}
        </p>
        {r.reason ? <p>Reason: {r.reason}</p> : null}
      </section>
    );
  }
  if (r.kind === "void") {
    return (
      <section class="kind kind-void" data-kind="void" aria-labelledby="kind-title">
        <h2 id="kind-title">Cancellation</h2>
        <p>
          This receipt cancels the sale on receipt {r.refersTo ? <ReceiptLink code={r.refersTo} /> : null}, which was
          rung up by mistake. That sale no longer counts.
        </p>
      </section>
    );
  }
  if (r.voidedBy) {
    return (
      <section class="kind kind-voided" data-kind="voided" aria-labelledby="kind-title">
        <h2 id="kind-title">Voided</h2>
        <p>
          This sale was cancelled at the till by receipt <ReceiptLink code={r.voidedBy} />. It no longer counts, and no
          money was taken for it.
        </p>
      </section>
    );
  }
  const refunds = r.refunds ?? [];
  if (!refunds.length) return null;
  const full = (r.refundedTotal ?? 0) >= r.total;
  return (
    <section class="kind kind-refunded" data-kind="refunded" aria-labelledby="kind-title">
      <h2 id="kind-title">{full ? "Refunded" : "Partly refunded"}</h2>
      <p>
        {full
          ? `All of this purchase (${money(r.total)}) was given back.`
          : `${money(r.refundedTotal ?? 0)} of ${money(r.total)} was given back.`}
      </p>
      <ul>
        {refunds.map((x) => (
          <li>
            <ReceiptLink code={x.code} />: {money(x.total)}, <time datetime={x.receivedAt}>{when(x.receivedAt)}</time>
          </li>
        ))}
      </ul>
    </section>
  );
};

/** What the browser needs to check the receipt against the signed log itself. */
type LogCheckInput = {
  record: string;
  hash: string;
  proof: NonNullable<Proof>;
  verifierKey: string;
  /** The deployment's LOG_ORIGIN: the checkpoint's origin must be exactly `<logOrigin>/<shard>`. */
  logOrigin: string;
  /** The witnesses' cosigner vkeys and how many must have cosigned the checkpoint. */
  witnesses: string[];
  quorum: number;
};

/**
 * The in-browser check. Without JavaScript it says so, and the server's answer
 * above it still stands; with it, the script replaces the message.
 */
const LogCheck = (props: { input: LogCheckInput | null; independent: string | null }) => {
  const input = props.input;
  const elsewhere = props.independent ? (
    <p>
      <a href={props.independent} rel="noopener">
        Check it with the independent verifier
      </a>
      , which trusts only keys pinned apart from this service.
    </p>
  ) : null;
  if (!input) {
    return (
      <section class="log-check" id="log-check" data-result="unsigned">
        <p data-message>
          This receipt will be in the witnessed public log within a few seconds. Reload then to have your browser check
          it.
        </p>
        {elsewhere}
      </section>
    );
  }
  const { proof, record, hash, verifierKey, logOrigin, witnesses, quorum } = input;
  const data = { record, hash, verifierKey, logOrigin, witnesses, quorum, ...proof };
  return (
    <section class="log-check" id="log-check" data-result="nojs" aria-live="polite">
      <p data-message>Your browser can check this receipt against the signed public log if JavaScript is on.</p>
      <details>
        <summary>Checkpoint and key</summary>
        <p>
          Entry {proof.leafIndex + 1} of {proof.treeSize} in the log of shard {proof.shard}, signed as:
        </p>
        <pre>{proof.checkpoint}</pre>
        <p>
          by the log key <code>{verifierKey}</code> (the same as at <code>/v1/log/key</code>), and cosigned by {quorum}{" "}
          or more of the witnesses at <code>/v1/log/witnesses</code>.
        </p>
      </details>
      {elsewhere}
      <script type="application/json" id="log-proof">
        {raw(inlineJson(data))}
      </script>
      <script src={LOG_CHECK_SCRIPT_URL} integrity={`sha256-${LOG_CHECK_SCRIPT_HASH}`} defer />
    </section>
  );
};

export function receiptPage(
  v: Verification,
  opts: {
    pageUrl: string;
    /** What the printed QR carries (contract v1.2 signedQr); the page's own address when no key is set. */
    qrText: string;
    locale: string;
    verifierKey: string | null;
    logOrigin: string;
    witnesses: { vkeys: string[]; quorum: number };
    /** The independent verifier's address for this receipt (VERIFIER_URL), if one is hosted. */
    independentVerifier: string | null;
    lottery?: LotteryEntry[];
  },
): Promise<Page> {
  if (v.branding === null) return missingPage(v.receipt);
  const { receipt: r, branding, storeTimezone } = v;
  const checkInput =
    r.proof && opts.verifierKey
      ? {
          record: v.canonical,
          hash: r.hash,
          proof: r.proof,
          verifierKey: opts.verifierKey,
          logOrigin: opts.logOrigin,
          witnesses: opts.witnesses.vkeys,
          quorum: opts.witnesses.quorum,
        }
      : null;
  const { locale } = opts;
  const money = (minor: number) => formatMoney(minor, r.currency, locale);
  const state: State = r.status !== "valid" ? "bad" : r.persisted ? "ok" : "pending";
  const colors: Palette = palette(branding);
  const css = pageCss(colors);
  const short = (hash: string) => `${hash.slice(0, 12)}…`;
  const what =
    r.kind === "refund" ? "Refund" : r.kind === "void" ? "Cancellation" : r.voidedBy ? "Voided receipt" : "Receipt";
  const title = `${state === "bad" ? `TAMPERED ${what.toLowerCase()}` : what} ${r.code} · ${branding.displayName}`;

  const page = (
    <Document title={title} css={css} themeColor={colors.brand}>
      <BrandHeader branding={branding} />
      <main>
        <StateBanner state={state} branding={branding} voided={r.kind === "sale" && !!r.voidedBy} />
        <KindNote r={r} money={money} when={(iso) => formatDateTime(iso, storeTimezone, locale)} />
        <LogCheck input={checkInput} independent={opts.independentVerifier} />
        <div class={state === "bad" ? "altered" : undefined}>
          {state === "bad" ? <p class="altered-note">As stored now: may have been altered.</p> : null}
          <h2 class="store">{r.store.name}</h2>
          <p class="meta">
            <time datetime={r.issuedAt}>{formatDateTime(r.issuedAt, storeTimezone, locale)}</time>
          </p>
          <p class="meta">
            Receipt <span class="code">{r.code}</span>
          </p>
          <h2>Items</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Item</th>
                <th scope="col" class="num">
                  Amount
                </th>
              </tr>
            </thead>
            <tbody>
              {r.items.map((item) => (
                <tr>
                  <td>
                    {formatQuantity(item.quantity, locale)} × {item.name}
                    <span class="sub">
                      {money(item.unitPrice)} each
                      {item.taxRate !== undefined ? ` · tax ${formatQuantity(item.taxRate, locale)}%` : ""}
                    </span>
                  </td>
                  <td class="num">{money(item.total)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr class="total">
                <th scope="row">Total</th>
                <td class="num total-amount">{money(r.total)}</td>
              </tr>
            </tfoot>
          </table>
          <h2>Payment</h2>
          <ul class="payments">
            {r.payments.map((p) => (
              <li>
                <span>{PAYMENT_LABELS[p.method] ?? p.method}</span>
                <span class="num">{money(p.amount)}</span>
              </li>
            ))}
          </ul>
        </div>
        {opts.lottery?.length ? (
          <section class="lottery" aria-labelledby="lottery-h">
            <h2 id="lottery-h">Receipt lottery</h2>
            <ul>
              {opts.lottery.map((d) => (
                <li>
                  <a href={`/lottery/${d.id}`}>{d.title}</a>
                  {": "}
                  {d.drawn ? (
                    d.prize ? (
                      <strong class="won">this receipt won {d.prize.name}!</strong>
                    ) : (
                      "drawn; this receipt did not win."
                    )
                  ) : (
                    <>
                      this receipt takes part; the draw closes{" "}
                      <time datetime={d.closesAt}>{formatDateTime(d.closesAt, storeTimezone, locale)}</time>.
                    </>
                  )}
                </li>
              ))}
            </ul>
          </section>
        ) : null}
        <figure class="qr">
          <div role="img" aria-label="Signed QR code of this receipt" data-qr={opts.qrText}>
            {raw(qrSvg(opts.qrText))}
          </div>
          <figcaption>
            Scan to open this page; the code also carries the gateway's signature, checkable offline
          </figcaption>
        </figure>
        <details>
          <summary>Chain record</summary>
          <dl>
            <dt>Sequence</dt>
            <dd>#{r.seq} in this store</dd>
            <dt>Hash</dt>
            <dd>
              <code title={r.hash}>{short(r.hash)}</code>
            </dd>
            <dt>Previous</dt>
            <dd>
              <code title={r.prevHash}>{short(r.prevHash)}</code>
            </dd>
            <dt>Terminal</dt>
            <dd>{r.terminalId}</dd>
            <dt>Received</dt>
            <dd>
              <time datetime={r.receivedAt}>{formatDateTime(r.receivedAt, storeTimezone, locale)}</time>
            </dd>
            <dt>Full hash</dt>
            <dd>
              <code>{r.hash}</code>
            </dd>
          </dl>
        </details>
      </main>
      <footer>
        {branding.receiptFooter ? <p class="footer-text">{branding.receiptFooter}</p> : null}
        {branding.supportUrl ? (
          <p>
            <SupportLink url={branding.supportUrl}>Help and support from {branding.displayName}</SupportLink>
          </p>
        ) : null}
        <p>Receipt check by Tillproof</p>
      </footer>
    </Document>
  );
  return render(page, css, checkInput !== null);
}

/** A code the signed log says was issued, whose record is gone. */
function missingPage(r: MissingReceipt): Promise<Page> {
  const css = pageCss(NEUTRAL);
  const title = `Receipt record missing · ${r.code}`;
  const page = (
    <Document title={title} css={css} themeColor={NEUTRAL.brand}>
      <BrandHeader branding={{ displayName: "Receipt check" }} />
      <main>
        <AlarmBanner title="MISSING">
          <p>
            <strong>This receipt was registered, but its record is gone.</strong> The code{" "}
            <span class="code">{r.code}</span> is genuine: the public log shows the sale was recorded
            {r.proof
              ? ` (entry ${r.proof.leafIndex + 1} of ${r.proof.treeSize} in the log of shard ${r.proof.shard})`
              : ""}
            . Its details have since been deleted or lost, which should never happen.
          </p>
          <p>Keep your paper receipt, and report this to the store that issued it.</p>
        </AlarmBanner>
      </main>
      <footer>
        <p>Receipt check by Tillproof</p>
      </footer>
    </Document>
  );
  return render(page, css);
}

type ErrorText = { title: string; text: Child };

const SCAN_HINT = "The easiest way to check a receipt is to scan the QR code printed on it.";

const NOT_FOUND: ErrorText = {
  title: "Receipt not found",
  text: (
    <>
      <p>
        This code is well-formed, but no receipt with it was ever registered. Check that it matches the printed receipt
        exactly, or ask the store that issued it.
      </p>
      <p>{SCAN_HINT}</p>
    </>
  ),
};

const ERRORS: Record<number, ErrorText> = {
  404: NOT_FOUND,
  400: {
    title: "Not a valid receipt code",
    text: (
      <>
        <p>
          Receipt codes have 20 letters and digits in groups of four, like{" "}
          <span class="code">7K3M-0QX2-9TBD-4HFA-2C8N</span> (older receipts have 16). Check the code for typos against
          the printed receipt (O and 0, and I, L and 1, count as the same).
        </p>
        <p>{SCAN_HINT}</p>
      </>
    ),
  },
  429: {
    title: "Too many checks",
    text: <p>This connection checked a lot of receipts in a short time. Please wait a minute, then try again.</p>,
  },
  503: {
    title: "Temporarily unavailable",
    text: <p>Receipts cannot be checked right now. Please try again in a few seconds.</p>,
  },
};

/**
 * The neutral page for a code that is malformed (400), unknown (404), checked
 * too often from one connection (429) or cannot be checked now (503; any 5xx).
 */
export function errorPage(status: number): Promise<Page> {
  const { title, text } = ERRORS[status] ?? (status >= 500 ? (ERRORS[503] as ErrorText) : NOT_FOUND);
  const css = pageCss(NEUTRAL);
  const page = (
    <Document title={title} css={css} themeColor={NEUTRAL.brand}>
      <BrandHeader branding={{ displayName: "Receipt check" }} />
      <main class="error">
        <h1>{title}</h1>
        {text}
      </main>
      <footer>
        <p>Receipt check by Tillproof</p>
      </footer>
    </Document>
  );
  return render(page, css);
}
