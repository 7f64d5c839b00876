import fs from 'node:fs';
const lock = JSON.parse(fs.readFileSync('package-lock.json','utf8'));
const pk = lock.packages; let added = 0;
for (const [path, meta] of Object.entries(pk)) {
  for (const [name, ver] of Object.entries(meta.optionalDependencies ?? {})) {
    // resolve like node: nested first, then walk up
    let p = path, found = false;
    while (true) {
      const cand = (p ? p + '/' : '') + 'node_modules/' + name;
      if (pk[cand]) { found = pk[cand].version === ver || !pk[cand].os?.includes('none') ; break; }
      if (!p) break;
      const i = p.lastIndexOf('/node_modules/'); p = i < 0 ? '' : p.slice(0, i);
    }
    if (found) continue;
    const top = 'node_modules/' + name;
    const key = pk[top] ? (path ? path + '/' : '') + 'node_modules/' + name : top;
    pk[key] = { version: ver, optional: true, os: ['none'], cpu: ['none'] };
    added++;
  }
}
fs.writeFileSync('package-lock.json', JSON.stringify(lock, null, 2) + '\n');
console.log('added', added);
