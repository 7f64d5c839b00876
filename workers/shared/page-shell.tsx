/** The shell every public page shares (the receipt page, the draw page): head, CSP-friendly style, doctype. */
import type { Child } from "hono/jsx";
import type { HtmlEscapedString } from "hono/utils/html";

/** A rendered page: its markup, the one stylesheet the CSP must allow, and whether it loads a script of ours. */
export type Page = { html: string; css: string; scripted: boolean };

/** JSX renders elements only; the doctype keeps browsers out of quirks mode. */
export async function render(
  node: HtmlEscapedString | Promise<HtmlEscapedString>,
  css: string,
  scripted = false,
): Promise<Page> {
  return { html: `<!DOCTYPE html>${await node}`, css, scripted };
}

export const Document = (props: { title: string; css: string; themeColor: string; children: Child }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="robots" content="noindex, nofollow" />
      <meta name="referrer" content="no-referrer" />
      <meta name="color-scheme" content="light" />
      <meta name="theme-color" content={props.themeColor} />
      <title>{props.title}</title>
      <style>{props.css}</style>
    </head>
    <body>
      <div class="page">{props.children}</div>
    </body>
  </html>
);
