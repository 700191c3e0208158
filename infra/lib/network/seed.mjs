// The demo network's seed (clients, directory) and its stand-in EHR servers' registration with the
// ehr-connector, once the apps are ready.
import fs from 'node:fs';
import path from 'node:path';

import { networkEnv, PLATFORM_ORGANIZATION_ID } from './apps.mjs';
import { spawnNode } from './processes.mjs';

export async function seedDemo(network, { output, log }) {
  const apps = new Set(network.processes.map((p) => p.app));
  const hasDirectoryService = apps.has('directory-service');
  const env = networkEnv({
    infraEnv: network.infraEnv,
    processes: network.processes,
    portBase: network.portBase,
    platform: network.platform,
    authMode: network.authMode,
  })['fhir-api'];
  const args = [
    'dist/tools/simulator/src/main.js',
    'seed',
    '--state-dir',
    network.stateDir,
    '--platform',
    path.join(network.stateDir, 'platform.json'),
    // Until apps/directory-service exists, the seed publishes the sample directory itself.
    ...(hasDirectoryService ? [] : ['--publish-directory', '--load-fhir-directory']),
  ];
  const child = spawnNode(args, {
    ...env,
    FHIR_DB_SCHEMA: process.env.FHIR_DB_SCHEMA || 'fhir_api',
  });
  const logs = output('seed', child);
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) {
    for (const line of logs.recent.slice(-15)) log(`   seed | ${line}`);
    throw new Error(`seeding the demo network failed (exit ${code})`);
  }
  network.clients = JSON.parse(
    fs.readFileSync(path.join(network.stateDir, 'clients.json'), 'utf8'),
  ).clients;
}

/** How each demo hospital's referrals travel (see tools/simulator, EHR_SERVERS). */
const EHR_MODES = { 'hosp-northside': 'push', 'hosp-southshore': 'pull' };

/**
 * Registers each hospital's stand-in EHR server with the ehr-connector (PUT /ehr-endpoints/<id>):
 * Northside sends its referrals itself and gets status pushed back; South Shore's are pulled from
 * its server (and pushed back too). Skipped, and said so, when either app is not running.
 */
export async function registerEhrEndpoints(network, { log }) {
  const connector = network.processes.find(
    (p) => p.app === 'ehr-connector' && p.status === 'ready',
  );
  const servers = network.processes.filter((p) => p.app === 'ehr-server' && p.status === 'ready');
  network.ehrServers = {};
  if (!connector || servers.length === 0) {
    log(
      'EHR servers: not registered (ehr-connector or ehr-server not running): referrals go directly to the FHIR API',
    );
    return;
  }
  for (const server of servers) {
    const mode = EHR_MODES[server.hospital] ?? 'push';
    const baseUrl = `${server.url}/fhir`;
    const body = {
      id: server.hospital,
      organizationId: server.hospital,
      baseUrl,
      auth: 'none',
      modes: mode === 'pull' ? ['pull', 'push'] : ['push'],
      ...(mode === 'pull'
        ? {
            pollIntervalSeconds: 2,
            platformOwnerReference: `Organization/${PLATFORM_ORGANIZATION_ID}`,
          }
        : {}),
    };
    try {
      // The connector's API takes the platform's (or an operator's) token only.
      const response = await network.platformTokens.fetch(
        `${connector.url}/ehr-endpoints/${server.hospital}`,
        {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        },
      );
      if (!response.ok)
        throw new Error(`HTTP ${response.status} ${(await response.text()).slice(0, 300)}`);
      network.ehrServers[server.hospital] = { baseUrl, mode };
      log(
        `EHR server  ${server.hospital} ${baseUrl} registered with the ehr-connector (${body.modes.join(', ')})`,
      );
    } catch (error) {
      network.problems.push(`EHR endpoint ${server.hospital}: ${error.message}`);
      log(`!! EHR endpoint ${server.hospital} not registered: ${error.message}`);
    }
  }
}
