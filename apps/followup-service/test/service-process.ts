import {
  LIBRARY_SOURCES,
  compileSources,
  startServiceProcess as startProcess,
  type ServiceProcess,
} from '@carerelay/testing';

export type { ServiceProcess };

/** Compiles the service and the libraries, laid out like dist/ (see compileSources). */
export const compileService = (): string =>
  compileSources(['apps/followup-service/src', ...LIBRARY_SOURCES]);

/** Starts the compiled service as its own process; resolves once it listens. */
export const startServiceProcess = (
  distDir: string,
  env: Record<string, string>,
): Promise<ServiceProcess> => startProcess(distDir, 'apps/followup-service/src/main.js', env);
