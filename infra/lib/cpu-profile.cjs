// Preloaded into every network process when CARERELAY_CPU_PROF_DIR is set: profiles the process
// from its start and writes a V8 CPU profile there on SIGWINCH (then starts a new one), so the
// running network can be profiled without stopping it. Not --cpu-prof: it writes only at a
// normal exit, and Nest re-raises SIGTERM; not SIGUSR2: Nest shuts an app down on it.
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.CARERELAY_CPU_PROF_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  const start = () =>
    session.post('Profiler.enable', () => session.post('Profiler.start', () => undefined));
  session.post('Profiler.setSamplingInterval', { interval: 1000 }, start);
  process.on('SIGWINCH', () => {
    session.post('Profiler.stop', (error, result) => {
      if (!error) {
        const app = (process.argv.find((a) => a.includes('/src/main')) ?? process.argv[1] ?? 'node')
          .replace(/.*dist\//, '')
          .replace(/\/src\/main\.js$/, '')
          .replace(/\W+/g, '-');
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(
          path.join(dir, `${app}.${process.pid}.${Date.now()}.cpuprofile`),
          JSON.stringify(result.profile),
        );
      }
      start();
    });
  });
}
