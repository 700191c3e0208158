#!/usr/bin/env node
// The sample CBO directory (libs/directory generateSampleDirectory: seeded, Chicago area) as
// Open Referral HSDS 3.0 JSON, a FHIR R4 transaction Bundle, or the domain model.
// It runs the compiled library, so `npm run build` first.
//
//   node infra/bin/generate-directory.mjs [--seed 42] [--services 240] [--organizations N]
//       [--format hsds|fhir|model] [--base-url https://cp.example/fhir] [--out FILE]
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LIB = path.join(ROOT, 'dist', 'libs', 'directory', 'src', 'index.js');

const usage = `usage: node infra/bin/generate-directory.mjs [--seed N] [--services N] [--organizations N]
       [--format hsds|fhir|model] [--base-url URL] [--out FILE]`;

let args;
try {
  args = parseArgs({
    options: {
      seed: { type: 'string', default: '42' },
      services: { type: 'string', default: '240' },
      organizations: { type: 'string' },
      format: { type: 'string', default: 'hsds' },
      'base-url': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (err) {
  console.error(`${err.message}\n${usage}`);
  process.exit(2);
}
if (args.help) {
  console.log(usage);
  process.exit(0);
}

const integer = (name, value) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
};
const seed = integer('seed', args.seed);
const services = integer('services', args.services);
const organizations =
  args.organizations === undefined ? undefined : integer('organizations', args.organizations);
if (!['hsds', 'fhir', 'model'].includes(args.format)) {
  console.error(`--format must be hsds, fhir or model, got ${JSON.stringify(args.format)}`);
  process.exit(2);
}
if (!fs.existsSync(LIB)) {
  console.error(`${path.relative(ROOT, LIB)} not found: run \`npm run build\` first`);
  process.exit(1);
}

const directoryLib = createRequire(import.meta.url)(LIB);
const directory = directoryLib.generateSampleDirectory({ seed, services, organizations });
const output =
  args.format === 'hsds'
    ? directoryLib.directoryToHsds(directory)
    : args.format === 'fhir'
      ? directoryLib.toFhirDirectoryBundle(directory, {
          baseUrl: args['base-url'],
          zipCentroids: directoryLib.sampleZipCentroids(),
        })
      : directory;
const json = `${JSON.stringify(output, null, 2)}\n`;

if (args.out) fs.writeFileSync(args.out, json);
else {
  // A closed pipe (`| head`) is not an error.
  process.stdout.on('error', (err) => process.exit(err.code === 'EPIPE' ? 0 : 1));
  process.stdout.write(json);
}

const zips = new Set(directory.locations.map((l) => l.address?.postalCode).filter(Boolean));
console.error(
  `sample directory (seed ${seed}): ${directory.organizations.length} organizations, ` +
    `${directory.services.length} services, ${directory.locations.length} locations in ${zips.size} ZIP codes` +
    ` → ${args.format}${args.out ? ` in ${args.out}` : ' on stdout'}`,
);
