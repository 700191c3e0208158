// The whole CareRelay network on one machine, as `npm start` runs it and as the e2e suite starts
// it. The public entry of infra/lib/network/: what bin/, bench/ and test/ import.
//
// Plain Node ESM; packages (jose, kafkajs) are imported lazily, after ensureDependencies.
export {
  DEFAULT_PORT_BASE,
  discoverApps,
  distIsFresh,
  entryOf,
  fhirBaseUrlOf,
  HOSPITALS,
  missingApps,
  NETWORK_TOOLS,
  networkEnv,
  networkProcesses,
  NOT_SERVICES,
  PLATFORM_ORGANIZATION_ID,
} from './network/apps.mjs';
export {
  ensurePlatformClient,
  ensureSecrets,
  ensureWebClients,
  platformTokens,
  WEB_DEMO_ORGANIZATIONS,
} from './network/demo-clients.mjs';
export { startNetwork, writeNetworkFile } from './network/network.mjs';
export { terminalLine } from './network/output.mjs';
export { startPrivateKafka } from './network/private-kafka.mjs';
export { startSummary, summaryLine } from './network/summary.mjs';
