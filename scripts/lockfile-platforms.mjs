// Run after `npm install` changes package-lock.json.
//
// npm records optional platform packages (workerd, biome, esbuild builds for other
// OSes) only when the registry serves them; a registry mirror that lacks some
// leaves them out, and `npm ci` then refuses the lockfile. This adds a stub
// entry for each missing one, marked for no OS, so `npm ci` skips it.
import fs from "node:fs";

const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
const pkgs = lock.packages;
let added = 0;

/** The entry Node would resolve `name` to from `from`, walking up node_modules. */
function resolveFrom(from, name) {
  let dir = from;
  for (;;) {
    const entry = pkgs[`${dir ? `${dir}/` : ""}node_modules/${name}`];
    if (entry) return entry;
    if (!dir) return null;
    const i = dir.lastIndexOf("/node_modules/");
    dir = i < 0 ? "" : dir.slice(0, i);
  }
}

for (const [path, meta] of Object.entries(pkgs)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const found = resolveFrom(path, name);
    if (found && (found.version === version || !found.os?.includes("none"))) continue;
    const top = `node_modules/${name}`;
    const key = pkgs[top] ? `${path ? `${path}/` : ""}node_modules/${name}` : top;
    pkgs[key] = { version, optional: true, os: ["none"], cpu: ["none"] };
    added++;
  }
}
fs.writeFileSync("package-lock.json", `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: added ${added} platform stub(s)`);
