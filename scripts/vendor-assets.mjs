// postinstall: copies the browser libraries the pages use from node_modules into public/vendor/
// (wrangler [assets]), so they are served from this origin at the version package-lock.json pins.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const files = [
  ["chart.js/dist/chart.umd.min.js", "chart.umd.min.js"],
  ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"],
  ["swagger-ui-dist/swagger-ui.css", "swagger-ui.css"],
];
mkdirSync(resolve(root, "public/vendor"), { recursive: true });
for (const [from, to] of files) copyFileSync(resolve(root, "node_modules", from), resolve(root, "public/vendor", to));
