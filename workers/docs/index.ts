/**
 * The API reference: /openapi.json, generated from the routes every feature
 * folder declares (workers/openapi.ts), and /docs, that document rendered by
 * Swagger UI, served from this origin as static assets (public/vendor, copied
 * from node_modules at install) and started by public/docs.js: no inline
 * script, nothing fetched from elsewhere.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { type AppEnv, consolePage, publicBaseUrl } from "../http.ts";
import { documentConfig, registerSecuritySchemes } from "../openapi.ts";
import { docsPageRoute, openApiRoute } from "./routes.ts";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tillproof API reference</title>
<link rel="stylesheet" href="/vendor/swagger-ui.css">
</head>
<body>
<div id="reference"></div>
<noscript>The reference needs JavaScript; the document itself is <a href="/openapi.json">/openapi.json</a>.</noscript>
<script src="/vendor/swagger-ui-bundle.js"></script>
<script src="/docs.js"></script>
</body>
</html>`;

// Swagger UI sets style attributes as it renders, and shows schema images as data: URLs.
const SOURCES = ["script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "connect-src 'self'"];

type Webhook = Parameters<OpenAPIHono<AppEnv>["openAPIRegistry"]["registerWebhook"]>[0];

/** Adds /openapi.json and /docs to the app, after every feature's routes are mounted, with the webhooks it sends. */
export function mountReference(app: OpenAPIHono<AppEnv>, webhooks: Webhook[]): void {
  registerSecuritySchemes(app);
  for (const w of webhooks) app.openAPIRegistry.registerWebhook(w);
  const documents = new Map<string, unknown>();
  app.openapi(openApiRoute, (c) => {
    const origin = publicBaseUrl(c);
    let doc = documents.get(origin);
    if (!doc) {
      doc = app.getOpenAPI31Document(documentConfig(origin));
      // The origin comes from the request when PUBLIC_BASE_URL is unset: keep a few, not one per Host header sent.
      if (documents.size >= 4) documents.clear();
      documents.set(origin, doc);
    }
    c.header("Cache-Control", "public, max-age=300");
    return c.json(doc as { openapi: string }, 200);
  });
  app.openapi(docsPageRoute, (c) => consolePage(c, PAGE, SOURCES));
}
