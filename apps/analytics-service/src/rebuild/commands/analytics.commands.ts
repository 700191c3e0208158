import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '@carerelay/config';
import { AnalyticsServiceConfig } from '../../analytics-service.config';
import { RebuildRefused, rebuildReadModel } from '../rebuild';

export const isAnalyticsCommand = (command: string | undefined): boolean =>
  command === 'analytics:rebuild';

export const USAGE = `usage: npm run cli -- analytics:rebuild [--schema <name>] [--in-place]
  Reads referral, follow-up, consent and FHIR change events from the start of their topics into
  fresh analytics tables, with the service's own handlers.
  default      side by side, into <ANALYTICS_DB_SCHEMA>_rebuild (the live service keeps running)
  --in-place   the service's own schema and consumer group (stop analytics-service first)
`;

/** `analytics:rebuild`: exit 0 rebuilt, 2 bad usage, 75 refused (service running), 78 config. */
export async function runAnalyticsCli(
  argv: string[],
  io: { out: (text: string) => void; err: (text: string) => void },
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  let values: { schema?: string; 'in-place'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv.slice(1),
      options: {
        schema: { type: 'string' },
        'in-place': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (values.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(values.schema)) {
    io.err(`--schema must be a lower-case PostgreSQL schema name\n`);
    return 2;
  }
  let config: AnalyticsServiceConfig;
  try {
    config = loadConfig(AnalyticsServiceConfig, { LOG_LEVEL: 'warn', ...env });
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`${error.message}\n`);
      return 78;
    }
    throw error;
  }
  try {
    const result = await rebuildReadModel(config, {
      schema: values.schema,
      inPlace: values['in-place'],
      log: (line) => io.out(`${line}\n`),
    });
    io.out(
      `rebuilt ${result.schema} in ${(result.ms / 1000).toFixed(1)} s: ${result.referrals} referrals, ` +
        `${result.referralEvents} referral events, ${result.patients} patients\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof RebuildRefused) {
      io.err(`${error.message}\n`);
      return 75;
    }
    throw error;
  }
}
