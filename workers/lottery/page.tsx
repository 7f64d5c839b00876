/**
 * GET /lottery/{id}: a draw for people. Open: its rules and commitment.
 * Drawn: the winning numbers, and everything needed to check them, with the
 * recipe in words. Server-rendered, no script, one inline stylesheet.
 */
import type { Draw } from "../../db/lottery.ts";
import { Document, type Page, render } from "../shared/page-shell.tsx";
import { NEUTRAL, pageCss } from "../shared/page-style.ts";

export function drawPage(d: Draw, baseUrl: string): Promise<Page> {
  const css = pageCss(NEUTRAL);
  const r = d.result;
  const page = (
    <Document title={`${d.title} · receipt lottery`} css={css} themeColor={NEUTRAL.brand}>
      <main>
        <h1>{d.title}</h1>
        <p class="meta">
          Receipts received from <time datetime={d.opensAt}>{d.opensAt}</time> until{" "}
          <time datetime={d.closesAt}>{d.closesAt}</time>
          {d.minTotal ? `, with a total of at least ${d.minTotal} minor units` : ""}
          {d.currency ? ` in ${d.currency}` : ""}
          {d.tenants ? `, from ${d.tenants.join(", ")}` : ""} take part, by themselves.
        </p>
        <h2>Prizes</h2>
        <ul>
          {d.prizes.map((p) => (
            <li>
              {p.name}: {p.numbers} winning ending{p.numbers === 1 ? "" : "s"} of {p.digits} character
              {p.digits === 1 ? "" : "s"}
            </li>
          ))}
        </ul>
        {r ? (
          <>
            <h2>Winning numbers</h2>
            <p>A receipt wins if its code ends with one of these (the first prize listed wins if several match).</p>
            <table>
              <thead>
                <tr>
                  <th scope="col">Prize</th>
                  <th scope="col">Winning endings</th>
                </tr>
              </thead>
              <tbody>
                {r.winning.map((w) => (
                  <tr>
                    <th scope="row">{w.name}</th>
                    <td>
                      <code>{w.suffixes.join(" ")}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p>{r.winners} receipts won.</p>
            <h2>How to check this draw</h2>
            <ol>
              <li>
                Before the draw closed we published the commitment <code>{d.commitment}</code>. Check that SHA-256 of
                the reveal <code>{Buffer.from(d.reveal).toString("hex")}</code> is that commitment.
              </li>
              <li>
                For each shard below, check the root at its size against the shard's signed checkpoint with a
                consistency proof (<code>/v1/log/&lt;shard&gt;/checkpoint</code>,{" "}
                <code>/v1/log/&lt;shard&gt;/proof/consistency</code>).
              </li>
              <li>
                seed = SHA-256("tillproof-lottery-v1\n" + id + "\n" ‖ reveal ‖ for each shard: uint32(shard) ‖
                uint64(size) ‖ root) = <code>{r.seed}</code>.
              </li>
              <li>
                Prize j's k-th ending is the first characters of Crockford base32 of HMAC-SHA256(seed, "prize/j/k").
              </li>
            </ol>
            <p>
              <code>
                npm run lottery:verify -- {d.id} --url {baseUrl}
              </code>{" "}
              does all of this with the public API only.
            </p>
            <details>
              <summary>Shards at the close</summary>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Shard</th>
                    <th scope="col">Size</th>
                    <th scope="col">Root</th>
                  </tr>
                </thead>
                <tbody>
                  {r.shards.map((s) => (
                    <tr>
                      <td>{s.shard}</td>
                      <td>{s.size}</td>
                      <td>
                        <code>{s.root}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          </>
        ) : (
          <>
            <h2>Not drawn yet</h2>
            <p>
              The draw's randomness is fixed already: its commitment is <code>{d.commitment}</code>. After the close,
              the seed combines the secret behind it with every shard's signed log at the close.
            </p>
          </>
        )}
        <p>
          Check a receipt: <code>/v1/lottery/draws/{d.id}/check/&lt;code&gt;</code>, or open the receipt's own page.
        </p>
      </main>
    </Document>
  );
  return render(page, css);
}
