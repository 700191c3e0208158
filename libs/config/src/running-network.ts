import fs from 'node:fs';
import path from 'node:path';

/** What `npm start` records of the network it runs (<stateDir>/network.json), as the CLI uses it. */
interface NetworkFile {
  pid?: number;
  fhirBaseUrl?: string;
  databaseUrl?: string;
}

const alive = (pid: number | undefined): boolean => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * The environment the CLI runs with: the variables that are set, and for those that are not, the
 * values of the network `npm start` is running from this checkout — so that onboarding a client
 * against the demo needs no variables, and prints the token URL that network's server accepts.
 */
export function withRunningNetwork(
  env: Record<string, string | undefined>,
  networkFile = path.resolve(process.cwd(), '.carerelay', 'demo', 'network.json'),
): { env: Record<string, string | undefined>; from?: string } {
  let recorded: NetworkFile;
  try {
    recorded = JSON.parse(fs.readFileSync(networkFile, 'utf8')) as NetworkFile;
  } catch {
    return { env };
  }
  if (!alive(recorded.pid)) return { env };
  const filled = { ...env };
  let used = false;
  if (!filled.DATABASE_URL && recorded.databaseUrl) {
    filled.DATABASE_URL = recorded.databaseUrl;
    used = true;
  }
  if (!filled.FHIR_BASE_URL && recorded.fhirBaseUrl) {
    filled.FHIR_BASE_URL = recorded.fhirBaseUrl;
    used = true;
  }
  return used ? { env: filled, from: `${networkFile} (npm start, pid ${recorded.pid})` } : { env };
}
