#!/usr/bin/env node
// `npm test`: the one test command of the README and of CI.
//   dependencies -> Kafka + PostgreSQL (database carerelay_test) -> lint -> jest (all tiers)
//   -> stop what this run started -> exit with the first non-zero code.
// Extra arguments go to jest: npm test -- --selectProjects unit
import { ensureDependencies, ensureInfra, stopInfra } from '../lib/infra.mjs';
import { elapsed, npmCommand, npxCommand, runInherit, section } from '../lib/run.mjs';

const owner = `npm-test:${process.pid}`;
const jestArgs = process.argv.slice(2);
const steps = [];
let current;
let interrupted = false;

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the current step, then cleaning up`);
    current?.child.kill(signal);
  });
}

async function step(name, fn) {
  section(name);
  const started = Date.now();
  let code;
  try {
    code = await fn();
  } catch (err) {
    console.error(`${name} failed: ${err.message}`);
    code = 1;
  }
  steps.push({ name, code, time: elapsed(started) });
  return code;
}

async function runStep(name, cmd, args, env) {
  return step(name, async () => {
    console.log(`$ ${[cmd, ...args].join(' ')}`);
    current = runInherit(cmd, args, { env });
    const code = await current.done;
    current = undefined;
    return code;
  });
}

async function main() {
  const started = Date.now();
  let env = process.env;
  if ((await step('dependencies', async () => (await ensureDependencies(), 0))) !== 0) return;
  const infra = await step('infrastructure (Kafka, PostgreSQL)', async () => {
    const vars = await ensureInfra({ database: 'carerelay_test', owner });
    for (const [k, v] of Object.entries(vars)) console.log(`${k}=${v}`);
    env = { ...process.env, ...vars };
    return 0;
  });
  if (infra === 0 && !interrupted) await runStep('lint', npmCommand, ['run', 'lint'], env);
  if (infra === 0 && !interrupted) {
    // --forceExit: once every result is in, exit even if a test left a handle open (a listening
    // server, a client's timer); otherwise jest waits for it forever and a green run never ends.
    await runStep(
      'tests (jest, all tiers)',
      npxCommand,
      ['jest', '--runInBand', '--forceExit', ...jestArgs],
      env,
    );
  }
  await step('teardown (what this run started)', async () => {
    const stopped = await stopInfra({ onlyIfStartedBy: owner });
    for (const { what, pid, result } of stopped) console.log(`${what} (pid ${pid}): ${result}`);
    if (stopped.length === 0)
      console.log('nothing to stop: the infrastructure was already running');
    return 0;
  });

  section('summary');
  for (const s of steps) console.log(`${s.code === 0 ? 'ok  ' : 'FAIL'}  ${s.name} (${s.time})`);
  console.log(`total ${elapsed(started)}`);
}

main().then(
  () => {
    const failed = steps.find((s) => s.code !== 0);
    process.exit(failed ? failed.code : interrupted ? 130 : 0);
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
