// node -r ./infra/lib/register-paths.cjs dist/apps/<app>/src/main.js
// Makes compiled code resolve the @carerelay/* aliases of tsconfig.json's "paths" against dist/
// (tsc -p tsconfig.build.json emits dist/libs/<lib>/src/*.js next to dist/apps/<app>/src/*.js).
const fs = require('node:fs');
const path = require('node:path');
const tsconfigPaths = require('tsconfig-paths');

const root = path.resolve(__dirname, '..', '..');
const tsconfig = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.json'), 'utf8'));
const { paths = {} } = tsconfig.compilerOptions ?? {};

tsconfigPaths.register({
  baseUrl: path.resolve(root, process.env.CARERELAY_DIST_DIR || 'dist'),
  paths,
  addMatchAll: false,
});
