import { ConfigError } from './load-config';
import { withRunningNetwork } from './running-network';

/** Where a command writes: the process's stdout/stderr, or strings in tests and embedders. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** sysexits(3): the codes every `npm run cli` command answers with. */
export const CLI_EXIT = { ok: 0, usage: 64, dataError: 65, notFound: 66, config: 78 } as const;

/** Unset variables come from the network `npm start` runs here, if one does (and it says so). */
export function cliEnvironment(
  io: CliIo = processIo,
  env: Record<string, string | undefined> = process.env,
): Record<string, string | undefined> {
  const { env: filled, from } = withRunningNetwork(env);
  if (from) io.err(`using the running network recorded in ${from}\n`);
  return filled;
}

/** A configuration error is the user's to fix (exit 78 with its message), anything else a bug. */
export async function exitOnConfigError(io: CliIo, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`${error.message}\n`);
      return CLI_EXIT.config;
    }
    throw error;
  }
}
