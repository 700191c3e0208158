// The whole CareRelay network on one machine, as `npm start` runs it and as the e2e suite starts
// it: dependencies -> Kafka + PostgreSQL -> build -> the platform's own SMART client (CLI) ->
// every service in dist/apps and the stand-in EHR servers (dist/tools) as its own process, each
// waited on at /health/ready -> demo seed (clients, directory) -> optionally the referral
// simulator and CBO bots. One place, networkEnv() (apps.mjs), computes every app's environment.
import fs from 'node:fs';
import path from 'node:path';

import { HOST } from '../common.mjs';
import { ensureDependencies, ensureInfra, STATE_DIR, stopInfra } from '../infra.mjs';
import { npmCommand, runInherit } from '../run.mjs';
import {
  DEFAULT_PORT_BASE,
  discoverApps,
  distIsFresh,
  fhirBaseUrlOf,
  missingApps,
  networkEnv,
  networkProcesses,
  nodeFlagsOf,
  PLATFORM_CLIENT_APPS,
} from './apps.mjs';
import {
  ensurePlatformClient,
  ensureSecrets,
  ensureWebClients,
  platformTokens,
} from './demo-clients.mjs';
import { makeOutput, terminalLine } from './output.mjs';
import { httpGet, portFree, spawnNode, stopProcess, waitReady } from './processes.mjs';
import { registerEhrEndpoints, seedDemo } from './seed.mjs';
import { skipConsumerBacklog, startSummary } from './summary.mjs';

/**
 * Starts the whole network. Used by `npm start` (infra/bin/start.mjs) and by test/e2e.
 *
 * @param {object} o
 * @param {string} o.owner who starts the infrastructure (stopInfra stops only what it started)
 * @param {string} [o.database] database name (default: infra's, carerelay / carerelay_test)
 * @param {number} [o.portBase] 8080: fhir-api 8080, referral 8082, consent 8083, ...
 * @param {string} [o.stateDir] keys, clients, logs, network.json (default .carerelay/demo)
 * @param {boolean|'auto'} [o.build] run `npm run build` first: true always, false never, 'auto'
 *   (default) unless dist/ is newer than every source (distIsFresh)
 * @param {boolean} [o.install] ensureDependencies first (default true)
 * @param {boolean} [o.quiet] app logs to files only (default false: prefixed on the terminal)
 * @param {boolean} [o.verbose] the terminal shows every request and event line too
 * @param {boolean} [o.seed] seed the demo network (default true)
 * @param {boolean} [o.skipBacklog] test networks: the services' consumer groups start at the
 *   topics' end (skipConsumerBacklog), not behind everything earlier runs published
 * @param {Record<string, Record<string, string>>} [o.appEnv] test networks: more settings of an
 *   app's typed config, by app ({ 'ehr-connector': { PUSH_MAX_ATTEMPTS: '2' } })
 * @param {number} [o.instances] instances of every service (default 1): a further one runs as a
 *   second machine would, named `<app>-2` at its ports + 200 (infra/lib/network/apps.mjs)
 * @param {(line: string) => void} [o.log]
 */
export async function startNetwork(o) {
  const started = Date.now();
  const portBase = o.portBase ?? DEFAULT_PORT_BASE;
  const stateDir = o.stateDir ?? path.join(STATE_DIR, 'demo');
  const log = o.log ?? ((line) => console.log(line));
  const step = o.step ?? (() => undefined);
  fs.mkdirSync(stateDir, { recursive: true });
  const network = {
    portBase,
    stateDir,
    fhirBaseUrl: fhirBaseUrlOf(portBase),
    processes: [],
    problems: [],
    authMode: 'smart',
    timings: {},
    infraEnv: undefined,
    summary: undefined,
    simulator: undefined,
    clients: undefined,
    platform: undefined,
    stop: async () => undefined,
  };
  let stopping = false;
  const mark = (name) => (network.timings[name] = Date.now() - started);

  network.stop = async ({ stopInfrastructure = true } = {}) => {
    if (stopping) return;
    stopping = true;
    // The simulator first, then the consumers, the FHIR API they call last.
    if (network.simulator) await stopProcess(network.simulator);
    await Promise.all(network.processes.filter((p) => p.app !== 'fhir-api').map(stopProcess));
    await Promise.all(network.processes.filter((p) => p.app === 'fhir-api').map(stopProcess));
    await network.summary?.stop();
    fs.rmSync(path.join(stateDir, 'network.json'), { force: true });
    if (stopInfrastructure) return stopInfra({ onlyIfStartedBy: o.owner, quiet: true });
    return [];
  };

  try {
    if (o.install !== false) {
      step('dependencies');
      await ensureDependencies();
    }
    step('infrastructure (Kafka, PostgreSQL)');
    network.infraEnv = await ensureInfra({
      owner: o.owner,
      ...(o.database ? { database: o.database } : {}),
    });
    mark('infra');
    log(`Kafka       ${network.infraEnv.KAFKA_BROKERS}`);
    log(`PostgreSQL  ${network.infraEnv.DATABASE_URL}`);
    if (o.skipBacklog) {
      const skipped = await skipConsumerBacklog(network.infraEnv.KAFKA_BROKERS);
      log(`consumer groups start at the topics' end (${skipped} earlier messages skipped)`);
    }

    const build = o.build ?? 'auto';
    const freshness = build === 'auto' ? distIsFresh() : undefined;
    if (build === true || (build === 'auto' && !freshness.fresh)) {
      step(`build${freshness ? ` (${freshness.reason})` : ''}`);
      const code = await runInherit(npmCommand, ['run', 'build'], {
        env: process.env,
      }).done;
      if (code !== 0) {
        network.problems.push(`npm run build exited with ${code}: starting what it emitted`);
        log(`!! npm run build reported errors (exit ${code}); starting what it emitted`);
      }
      mark('build');
    } else if (freshness) {
      log(`build       skipped: ${freshness.reason} (npm start -- --build forces one)`);
    }

    step('apps');
    const apps = discoverApps();
    for (const app of missingApps()) {
      network.problems.push(`${app}: not built (no dist/apps/${app}/src/main.js), not started`);
      log(`!! ${app}: has sources but no dist/apps/${app}/src/main.js: not started`);
    }
    if (!apps.includes('fhir-api')) throw new Error('apps/fhir-api is not built: nothing to run');
    const planned = networkProcesses(apps, portBase, { instances: o.instances ?? 1 });
    const busy = [];
    for (const p of planned)
      for (const port of [p.port, p.managementPort].filter(Boolean))
        if (!(await portFree(port))) busy.push(`${p.name} :${port}`);
    if (busy.length > 0) {
      throw new Error(
        `ports in use: ${busy.join(', ')}. Is another network running (npm run status)? ` +
          `Another port base: --port-base <n> or CARERELAY_PORT_BASE.`,
      );
    }

    const baseEnv = networkEnv({ infraEnv: network.infraEnv, processes: planned, portBase });
    network.secrets = await ensureSecrets({ stateDir });
    network.platform = await ensurePlatformClient({
      stateDir,
      env: baseEnv['fhir-api'],
      log,
    });
    network.webClients = planned.some((p) => p.app === 'web')
      ? await ensureWebClients({ stateDir, env: baseEnv['fhir-api'], log })
      : [];
    mark('platform-client');
    network.platformTokens = platformTokens({
      fhirBaseUrl: network.fhirBaseUrl,
      platform: network.platform,
    });

    const width = Math.max(...planned.map((p) => p.name.length), 'simulator'.length);
    const output = makeOutput(path.join(stateDir, 'logs'), o.quiet, width, o.verbose);
    const envFor = (name) =>
      networkEnv({
        infraEnv: network.infraEnv,
        processes: planned,
        portBase,
        platform: network.platform,
        authMode: network.authMode,
        secrets: network.secrets,
        webClients: network.webClients,
      })[name];
    const launch = (p, envOverride = {}) => {
      const child = spawnNode([...nodeFlagsOf(p.app), p.entry], {
        ...envFor(p.name),
        ...(o.appEnv?.[p.app] ?? {}),
        ...envOverride,
      });
      const proc = {
        ...p,
        child,
        pid: child.pid,
        url: `http://${HOST}:${p.port}`,
        ...(p.managementPort ? { managementUrl: `http://${HOST}:${p.managementPort}` } : {}),
        status: 'starting',
        exitCode: undefined,
      };
      proc.logs = output(p.name, child);
      proc.exited = new Promise((resolve) =>
        child.once('exit', (code, signal) => {
          proc.exitCode = code ?? (signal ? `signal ${signal}` : 'unknown');
          if (!stopping && proc.status !== 'restarting') {
            proc.status = 'exited';
            const why = `${p.name} exited (${proc.exitCode})`;
            network.problems.push(why);
            log(`!! ${why}; last lines in ${proc.logs.file}`);
            o.onExit?.(proc);
          }
          resolve(proc.exitCode);
        }),
      );
      return proc;
    };
    const ready = async (proc) => {
      const result = await waitReady(proc, { timeoutMs: o.readyTimeoutMs ?? 120_000 });
      if (result.ok) {
        proc.status = 'ready';
        proc.health = result.health;
        proc.readyMs = result.ms;
        log(
          `ready       ${proc.name} ${proc.url} (${(result.ms / 1000).toFixed(1)} s, ${result.health})`,
        );
      } else {
        proc.status = proc.exitCode !== undefined ? 'exited' : 'not ready';
        network.problems.push(`${proc.name}: ${result.reason}`);
        log(`!! ${proc.name} ${result.reason}`);
        for (const line of proc.logs.recent.slice(-15))
          log(`   ${proc.name} | ${terminalLine(line, { verbose: true })}`);
      }
      return result.ok;
    };

    // Every app at once (they wait for the FHIR API themselves: its outages are transient to
    // them). Once the FHIR API is ready we know whether it serves SMART Backend Services; if it
    // does not, it and the apps that call it as the platform client start again in dev mode.
    const all = planned.map(launch);
    network.processes.push(...all);
    const fhirApi = all.find((p) => p.app === 'fhir-api');
    const readiness = new Map(all.filter((p) => p !== fhirApi).map((p) => [p, ready(p)]));
    if (!(await ready(fhirApi))) throw new Error('fhir-api did not start: see its log above');
    const smart = await httpGet(`${network.fhirBaseUrl}/.well-known/smart-configuration`);
    if (smart.status !== 200) {
      log(
        `!! fhir-api does not serve SMART Backend Services (/.well-known/smart-configuration: ${smart.status || smart.text}); ` +
          'restarting it with FHIR_AUTH_DISABLED=true (development actors, X-Dev-Actor)',
      );
      network.problems.push('fhir-api without SMART auth: running with FHIR_AUTH_DISABLED=true');
      network.authMode = 'dev';
      const relaunch = async (proc) => {
        proc.status = 'restarting';
        await stopProcess(proc);
        const again = launch(proc);
        network.processes[network.processes.indexOf(proc)] = again;
        return again;
      };
      const again = await relaunch(fhirApi);
      if (!(await ready(again))) throw new Error('fhir-api did not start again');
      for (const proc of [...readiness.keys()]) {
        if (!PLATFORM_CLIENT_APPS.has(proc.app)) continue;
        await readiness.get(proc);
        readiness.delete(proc);
        const restarted = await relaunch(proc);
        readiness.set(restarted, ready(restarted));
      }
    }
    await Promise.all(readiness.values());
    mark('apps-ready');
    writeNetworkFile(network, o.owner);

    // For resilience tests: kill one process of the running network (SIGKILL by default, no
    // clean shutdown) and start it again with the same environment (plus `env`, e.g. a database
    // URL through a proxy the test controls), waited on at /health/ready.
    network.killProcess = async (name, signal = 'SIGKILL') => {
      const proc = network.processes.find((p) => p.name === name);
      if (!proc) throw new Error(`no process ${name} in the network`);
      proc.status = 'restarting';
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
      await proc.exited;
      return proc;
    };
    network.restartProcess = async (name, env = {}) => {
      const index = network.processes.findIndex((p) => p.name === name);
      if (index < 0) throw new Error(`no process ${name} in the network`);
      const again = launch(network.processes[index], env);
      network.processes[index] = again;
      writeNetworkFile(network, o.owner);
      const ok = await ready(again);
      writeNetworkFile(network, o.owner);
      return { ok, proc: again };
    };

    if (o.seed !== false) {
      step('demo network (clients, directory)');
      await seedDemo(network, { output, log });
      await registerEhrEndpoints(network, { log });
      mark('seeded');
    }
    try {
      network.summary = await startSummary({ brokers: network.infraEnv.KAFKA_BROKERS });
    } catch (error) {
      network.problems.push(`live summary unavailable: ${error.message}`);
      log(`!! live summary unavailable: ${error.message}`);
    }
    network.startSimulator = (options = {}) => {
      const args = [
        'dist/tools/simulator/src/main.js',
        'run',
        '--state-dir',
        stateDir,
        '--rate',
        String(options.rate ?? 2),
        ...(options.args ?? []),
      ];
      const child = spawnNode(
        args,
        { ...envFor('fhir-api'), EHR_SERVERS: JSON.stringify(network.ehrServers ?? {}) },
        { ipc: true },
      );
      const sim = { name: 'simulator', child, pid: child.pid, stats: undefined };
      sim.logs = output('simulator', child);
      child.on('message', (message) => {
        if (message?.kind === 'stats') sim.stats = message;
      });
      sim.exited = new Promise((resolve) => child.once('exit', resolve));
      network.simulator = sim;
      writeNetworkFile(network, o.owner);
      return sim;
    };
    mark('ready');
    return network;
  } catch (error) {
    await network.stop();
    throw error;
  }
}

function postgresHostPort(url) {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}`;
  } catch {
    return undefined;
  }
}

/** <stateDir>/network.json: what runs, for `npm run status`. */
export function writeNetworkFile(network, owner) {
  const data = {
    owner,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    fhirBaseUrl: network.fhirBaseUrl,
    authMode: network.authMode,
    // The broker and database server this network uses, for `npm run status`.
    kafkaBrokers: network.infraEnv?.KAFKA_BROKERS,
    postgres: postgresHostPort(network.infraEnv?.DATABASE_URL),
    // For the CLI run beside it (the file is the owner's only: the URL may hold a password).
    databaseUrl: network.infraEnv?.DATABASE_URL,
    processes: [...network.processes, ...(network.simulator ? [network.simulator] : [])].map(
      (p) => ({
        name: p.name,
        pid: p.pid,
        port: p.port,
        url: p.url,
        managementUrl: p.managementUrl,
        status: p.status,
      }),
    ),
  };
  fs.writeFileSync(
    path.join(network.stateDir, 'network.json'),
    `${JSON.stringify(data, null, 2)}\n`,
    { mode: 0o600 },
  );
}
