import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export type ConfigClass<T> = new () => T;

// Converts by the type of the default value; a value that does not convert stays a string so
// that the validator reports it.
function convertLike(fallback: unknown, raw: string): unknown {
  if (typeof fallback === 'number' && /^-?\d+(\.\d+)?$/.test(raw.trim())) return Number(raw);
  if (typeof fallback === 'boolean' && /^(true|false)$/i.test(raw.trim())) {
    return raw.trim().toLowerCase() === 'true';
  }
  return raw;
}

function describe(errors: ValidationError[], env: Record<string, string | undefined>): string[] {
  return errors.flatMap((error) => {
    const messages = Object.values(error.constraints ?? {});
    const value = env[error.property];
    const shown = value === undefined ? 'missing' : `got ${JSON.stringify(value)}`;
    return messages.map((message) => `${error.property} (${shown}): ${message}`);
  });
}

/**
 * Reads the environment once into a typed, validated config object. Every problem is reported
 * together, each naming its variable, so one start-up attempt shows everything that is wrong.
 */
export function loadConfig<T extends object>(
  configClass: ConfigClass<T>,
  env: Record<string, string | undefined> = process.env,
): T {
  const defaults = new configClass() as Record<string, unknown>;
  const relevant: Record<string, unknown> = {};
  for (const [key, fallback] of Object.entries(defaults)) {
    const raw = env[key];
    relevant[key] = raw === undefined || raw === '' ? fallback : convertLike(fallback, raw);
  }
  const config = plainToInstance(configClass, relevant);
  const errors = validateSync(config as object, { skipMissingProperties: false });
  if (errors.length > 0) throw new ConfigError(describe(errors, env));
  return Object.freeze(config);
}

/** For a process's entry point: a bad environment stops the process with a clear message. */
export function loadConfigOrExit<T extends object>(configClass: ConfigClass<T>): T {
  try {
    return loadConfig(configClass);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}
