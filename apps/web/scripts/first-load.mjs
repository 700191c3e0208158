// First-load timing of the web app in Debian's Chromium (printed, not asserted): the sign-in page
// loaded cold (new browser context, empty cache) N times; prints the median and worst
// DOMContentLoaded, load and first contentful paint, and the bytes transferred.
//   npm run web:first-load -- [url] [runs]     (default: the running npm start's web app, 5 runs)
/* global performance */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
let url = process.argv[2];
if (!url) {
  const file = path.join(root, '.carerelay', 'demo', 'network.json');
  const web = fs.existsSync(file)
    ? JSON.parse(fs.readFileSync(file, 'utf8')).processes.find((p) => p.name === 'web')
    : undefined;
  url = web?.url ?? 'http://127.0.0.1:8087';
}
const runs = Number(process.argv[3] ?? 5);
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const samples = [];
try {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    let bytes = 0;
    page.on('response', async (response) => {
      const body = await response.body().catch(() => undefined);
      bytes += Number(response.headers()['content-length'] ?? body?.length ?? 0);
    });
    await page.goto(url, { waitUntil: 'load' });
    await page.getByRole('button', { name: /Sign in|Iniciar sesión/ }).waitFor();
    const timing = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      return {
        domContentLoaded: nav.domContentLoadedEventEnd,
        load: nav.loadEventEnd,
        fcp: fcp?.startTime ?? NaN,
        interactive: performance.now(),
      };
    });
    samples.push({ ...timing, bytes });
    await context.close();
  }
} finally {
  await browser.close();
}
const stat = (key) => {
  const values = samples.map((s) => s[key]).sort((a, b) => a - b);
  return `median ${values[Math.floor(values.length / 2)].toFixed(0)} ms, worst ${values.at(-1).toFixed(0)} ms`;
};
console.log(`first load of ${url} (${runs} cold loads, Chromium headless)`);
console.log(`  first contentful paint   ${stat('fcp')}`);
console.log(`  DOMContentLoaded         ${stat('domContentLoaded')}`);
console.log(`  load                     ${stat('load')}`);
console.log(`  sign-in form usable      ${stat('interactive')}`);
console.log(
  `  transferred              ${(samples[0].bytes / 1024).toFixed(1)} KB as sent (scripts and styles gzipped)`,
);
console.log('  goal: under 2000 ms (not asserted)');
