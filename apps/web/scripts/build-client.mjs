// Builds the web app's single-page app with Vite (part of `npm run build`, so npm start and
// npm test build it too) and prints each file's size and gzipped size, and the initial
// JavaScript (what index.html loads) gzipped, beside the 300 KB budget.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const clientRoot = path.resolve(here, '..', 'client');
const outDir = path.resolve(here, '..', '..', '..', 'dist', 'apps', 'web', 'client');
const BUDGET_KB = 300;

const { build } = await import('vite');
const started = Date.now();
await build({ configFile: path.join(clientRoot, 'vite.config.mjs') });

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const files = [];
for (const dir of [outDir, path.join(outDir, 'assets')]) {
  if (!fs.existsSync(dir)) continue;
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (!fs.statSync(file).isFile() || name.endsWith('.gz')) continue;
    const content = fs.readFileSync(file);
    const gzip = gzipSync(content, { level: 9 });
    // Served as is to browsers that accept gzip (apps/web/src/static/spa.ts).
    if (/\.(js|css)$/.test(name)) fs.writeFileSync(`${file}.gz`, gzip);
    files.push({ name: path.relative(outDir, file), size: content.length, gzip: gzip.length });
  }
}
console.log(
  `web client built in ${((Date.now() - started) / 1000).toFixed(1)} s -> ${path.relative(process.cwd(), outDir)}`,
);
for (const f of files.sort((a, b) => b.gzip - a.gzip)) {
  console.log(`  ${f.name.padEnd(40)} ${kb(f.size).padStart(10)}  gzip ${kb(f.gzip).padStart(9)}`);
}
const html = fs.readFileSync(path.join(outDir, 'index.html'), 'utf8');
const initial = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
const initialGzip = files
  .filter((f) => initial.includes(f.name))
  .reduce((sum, f) => sum + f.gzip, 0);
console.log(
  `  initial JavaScript (gzip): ${kb(initialGzip)} of a ${BUDGET_KB} KB budget${initialGzip > BUDGET_KB * 1024 ? '  !! over budget' : ''}`,
);
