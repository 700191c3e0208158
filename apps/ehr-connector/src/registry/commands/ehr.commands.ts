import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { IsOptional, IsString, Matches } from 'class-validator';
import { DataSource } from 'typeorm';
import {
  CredentialsKeyError,
  CredentialsUnavailable,
  credentialsCipherOf,
} from '../credentials-cipher';
import {
  EhrEndpointValidationError,
  parseEhrEndpointInput,
  type EhrEndpointInput,
  type EhrEndpointRules,
} from '../ehr-endpoint.input';
import { EhrEndpointRegistry, type EhrEndpoint } from '../ehr-endpoint.registry';
import { EHR_CONNECTOR_MIGRATIONS } from '../../migrations';
import { EhrClients } from '../../fhir/fhir-clients';
import { EhrSubscriptionRepository } from '../../subscription/ehr-subscription.repository';
import {
  parseSubscriptionSetup,
  setUpSubscription,
  SubscriptionNotCreated,
  type SubscriptionSetupInput,
  type SubscriptionSetupResult,
} from '../../subscription/subscription-setup';

export const EHR_USAGE = `  ehr:add --org <Organization id> --base <FHIR base URL> --mode push,pull[,subscribe]
          [--id <endpoint id>] [--auth none|smart --client-id <id> --jwk-file <file>
          --token-url <url> [--scope <scopes>]] [--owner Organization/<id>]
          [--poll-seconds <n>] [--disabled]
      Adds or replaces (same id; default: the organization id) an EHR FHIR endpoint of the
      ehr-connector, validated as PUT /ehr-endpoints validates it, and prints it as JSON.
      With --auth smart the private JWK of --jwk-file is read here and stored encrypted
      (EHR_CREDENTIALS_KEY); the connector never reads key files. The token URL must be on the
      base URL's origin unless EHR_TOKEN_URL_ALLOWED_ORIGINS lists its origin.
  ehr:list
      Prints every registered EHR endpoint (with its pull watermark and last poll error) as JSON.
  ehr:subscribe --id <endpoint id> --public-url <the connector's URL as the EHR reaches it>
          [--content id-only|full-resource] [--heartbeat <seconds>] [--create]
      Sets up the endpoint's subscription: a new channel secret (stored encrypted with
      EHR_CREDENTIALS_KEY; an earlier one stops working) and the R4 Backport Subscription the
      EHR must hold (rest-hook to <public-url>/ehr-notifications/<id>, header
      "Authorization: Bearer <secret>"), printed as JSON: the only time the secret is shown.
      With --create it is POSTed to the EHR with the endpoint's credentials.
  ehr:rekey
      Re-encrypts every stored EHR credential under EHR_CREDENTIALS_KEY (after a rotation: the
      old key in EHR_CREDENTIALS_PREVIOUS_KEYS) and prints how many changed.

Environment of ehr:*: DATABASE_URL (required), EHR_CONNECTOR_DB_SCHEMA (default ehr_connector),
PLATFORM_ORGANIZATION_ID (default carerelay-platform), EHR_CREDENTIALS_KEY (required for
--auth smart, ehr:subscribe and ehr:rekey), EHR_CREDENTIALS_PREVIOUS_KEYS, EHR_TOKEN_URL_ALLOWED_ORIGINS (the
ehr-connector's values).`;

export const EHR_EXIT = { ok: 0, usage: 64, dataError: 65, unavailable: 69 } as const;

/** Environment of the ehr:* commands (validated with libs/config's loadConfig). */
export class EhrCliConfig {
  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'must be a postgres:// URL' })
  DATABASE_URL: string = undefined as unknown as string;

  /** The ehr-connector's schema (same variable and default as the ehr-connector). */
  @Matches(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lower-case SQL identifier' })
  EHR_CONNECTOR_DB_SCHEMA = 'ehr_connector';

  @Matches(/^[A-Za-z0-9\-.]{1,64}$/, { message: 'must be a FHIR id' })
  PLATFORM_ORGANIZATION_ID = 'carerelay-platform';

  @IsOptional()
  @IsString()
  EHR_CREDENTIALS_KEY?: string = undefined;

  @IsOptional()
  @IsString()
  EHR_CREDENTIALS_PREVIOUS_KEYS?: string = undefined;

  @IsOptional()
  @IsString()
  EHR_TOKEN_URL_ALLOWED_ORIGINS?: string = undefined;
}

/** What the ehr:* commands need of the registry (EhrEndpointRegistry; a fake in unit tests). */
export interface EhrRegistryPort {
  upsert(input: EhrEndpointInput): Promise<EhrEndpoint>;
  list(): Promise<EhrEndpoint[]>;
  reencryptAll(): Promise<number>;
}

/** What `ehr:subscribe` needs: setUpSubscription on the connector's schema (a fake in unit tests). */
export interface EhrSubscriptionPort {
  /** undefined when there is no such endpoint. */
  setUp(
    endpointId: string,
    input: SubscriptionSetupInput,
  ): Promise<SubscriptionSetupResult | undefined>;
}

export interface EhrCliContext {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Opened lazily, so that usage and validation errors need no database. */
  registry: () => Promise<EhrRegistryPort>;
  subscriptions?: () => Promise<EhrSubscriptionPort>;
  /** Resolves a relative --jwk-file (default: the current directory). */
  cwd?: string;
  /** Allowed token URL origins besides the base URL's (EHR_TOKEN_URL_ALLOWED_ORIGINS). */
  rules?: EhrEndpointRules;
}

class UsageError extends Error {}
class DataError extends Error {}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `--auth smart` is SMART Backend Services (the registry's `smart-backend`). */
const AUTH_FLAG: Record<string, string> = {
  none: 'none',
  smart: 'smart-backend',
  'smart-backend': 'smart-backend',
};

/** A default endpoint id from an Organization id: lower case, other characters as `-`. */
export function endpointIdOf(organizationId: string): string {
  return organizationId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63);
}

/** The private JWK file must be readable JSON with a private part: read here, stored encrypted. */
async function readPrivateJwk(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new DataError(`cannot read --jwk-file ${file}: ${(error as Error).message}`);
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new DataError(`--jwk-file ${file} is not JSON`);
  }
  const key = jwk as { kty?: unknown; d?: unknown; kid?: unknown };
  if (!key || typeof key !== 'object' || typeof key.kty !== 'string' || typeof key.d !== 'string')
    throw new DataError(`--jwk-file ${file} is not a private JWK (kty and d are needed)`);
  if (typeof key.kid !== 'string')
    throw new DataError(`--jwk-file ${file} has no kid (the EHR finds its public key by it)`);
  return jwk as Record<string, unknown>;
}

/** Builds the raw endpoint from `ehr:add` flags (validation is parseEhrEndpointInput's). */
export function endpointFromFlags(values: Record<string, unknown>, cwd: string): unknown {
  const v = values as Record<string, string | boolean | undefined>;
  if (!v.org || !v.base || !v.mode) throw new UsageError('ehr:add needs --org, --base and --mode');
  const auth = AUTH_FLAG[String(v.auth ?? 'none')];
  if (!auth) throw new UsageError(`--auth must be none or smart (got ${String(v.auth)})`);
  const smartFlags = ['client-id', 'jwk-file', 'token-url', 'scope'].filter(
    (f) => v[f] !== undefined,
  );
  if (auth === 'none' && smartFlags.length > 0)
    throw new UsageError(`--${smartFlags[0]} goes with --auth smart only`);
  let pollIntervalSeconds: number | string | undefined;
  if (v['poll-seconds'] !== undefined) {
    const text = String(v['poll-seconds']);
    pollIntervalSeconds = /^\d+$/.test(text) ? Number(text) : text;
  }
  const raw: Record<string, unknown> = {
    id: v.id ?? endpointIdOf(String(v.org)),
    organizationId: v.org,
    baseUrl: v.base,
    auth,
    modes: String(v.mode)
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m.length > 0),
    tokenUrl: v['token-url'],
    clientId: v['client-id'],
    privateJwk: v['jwk-file'] ? { file: path.resolve(cwd, String(v['jwk-file'])) } : undefined,
    scope: v.scope,
    platformOwnerReference: v.owner,
    pollIntervalSeconds,
    enabled: v.disabled ? false : undefined,
  };
  for (const key of Object.keys(raw)) if (raw[key] === undefined) delete raw[key];
  return raw;
}

export const EHR_COMMANDS = ['ehr:add', 'ehr:list', 'ehr:subscribe', 'ehr:rekey'] as const;

export const isEhrCommand = (command: string | undefined): boolean =>
  (EHR_COMMANDS as readonly (string | undefined)[]).includes(command);

/** Runs one `ehr:*` command (see isEhrCommand); returns the process exit code. */
export async function runEhrCli(argv: string[], context: EhrCliContext): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (!isEhrCommand(command)) throw new UsageError(`unknown command ${command}`);
    if (command === 'ehr:list') {
      const { positionals } = parse(rest, {});
      if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
      context.out(json(await (await context.registry()).list()));
      return EHR_EXIT.ok;
    }
    if (command === 'ehr:rekey') {
      const { positionals } = parse(rest, {});
      if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
      const reencrypted = await (await context.registry()).reencryptAll();
      context.out(json({ reencrypted }));
      return EHR_EXIT.ok;
    }
    if (command === 'ehr:subscribe') return await subscribe(rest, context);
    const { values, positionals } = parse(rest, {
      id: { type: 'string' },
      org: { type: 'string' },
      base: { type: 'string' },
      mode: { type: 'string' },
      auth: { type: 'string' },
      'client-id': { type: 'string' },
      'jwk-file': { type: 'string' },
      'token-url': { type: 'string' },
      scope: { type: 'string' },
      owner: { type: 'string' },
      'poll-seconds': { type: 'string' },
      disabled: { type: 'boolean' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const raw = endpointFromFlags(values, context.cwd ?? process.cwd()) as Record<string, unknown>;
    const keyFile = (raw.privateJwk as { file?: string } | undefined)?.file;
    if (keyFile !== undefined) raw.privateJwk = await readPrivateJwk(keyFile);
    const input = parseEhrEndpointInput(raw, context.rules);
    context.out(json(await (await context.registry()).upsert(input)));
    return EHR_EXIT.ok;
  } catch (error) {
    if (error instanceof UsageError) {
      context.err(
        `${error.message}\n\nUsage: npm run cli -- <command> [options]\n\n${EHR_USAGE}\n`,
      );
      return EHR_EXIT.usage;
    }
    if (error instanceof EhrEndpointValidationError) {
      context.err(`${json({ error: 'invalid EHR endpoint', problems: error.problems })}`);
      return EHR_EXIT.dataError;
    }
    if (error instanceof DataError) {
      context.err(`${error.message}\n`);
      return EHR_EXIT.dataError;
    }
    if (error instanceof SubscriptionNotCreated) {
      context.err(`${error.message}\n`);
      return EHR_EXIT.unavailable;
    }
    if (error instanceof CredentialsUnavailable || error instanceof CredentialsKeyError) {
      context.err(
        `${error instanceof CredentialsKeyError ? error.message : 'EHR_CREDENTIALS_KEY is missing or does not open a stored credential'}\n`,
      );
      return EHR_EXIT.dataError;
    }
    if ((error as { code?: string }).code === '23505') {
      // ehr_endpoints.base_url is unique: another endpoint id already has this base URL.
      context.err('another EHR endpoint already has this base URL\n');
      return EHR_EXIT.dataError;
    }
    throw error;
  }
}

async function subscribe(args: string[], context: EhrCliContext): Promise<number> {
  const { values, positionals } = parse(args, {
    id: { type: 'string' },
    'public-url': { type: 'string' },
    content: { type: 'string' },
    heartbeat: { type: 'string' },
    create: { type: 'boolean' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (!values.id || !values['public-url'])
    throw new UsageError('ehr:subscribe needs --id and --public-url');
  if (!context.subscriptions) throw new UsageError('ehr:subscribe is not available here');
  const heartbeat = values.heartbeat as string | undefined;
  const input = parseSubscriptionSetup({
    publicUrl: values['public-url'],
    content: values.content,
    heartbeatSeconds:
      heartbeat === undefined ? undefined : /^\d+$/.test(heartbeat) ? Number(heartbeat) : heartbeat,
    create: values.create,
  });
  const result = await (await context.subscriptions()).setUp(String(values.id), input);
  if (!result) throw new DataError(`no EHR endpoint ${String(values.id)}`);
  context.out(json(result));
  return EHR_EXIT.ok;
}

/**
 * The registry on the ehr-connector's own schema, migrated with the connector's migrations (the
 * same list the app runs), so that the CLI works whether or not the connector runs; a running
 * connector reads the registry from the database on every poll and push.
 */
export function ehrRegistryOn(dataSource: DataSource, config: EhrCliConfig): EhrRegistryPort {
  return new EhrEndpointRegistry(
    dataSource,
    config.EHR_CONNECTOR_DB_SCHEMA,
    config.PLATFORM_ORGANIZATION_ID,
    credentialsCipherOf(config),
  );
}

/** `ehr:subscribe` on the connector's schema: the same set-up as POST /ehr-endpoints/:id/subscription. */
export function ehrSubscriptionsOn(
  dataSource: DataSource,
  config: EhrCliConfig,
  rules: EhrEndpointRules,
): EhrSubscriptionPort {
  const registry = new EhrEndpointRegistry(
    dataSource,
    config.EHR_CONNECTOR_DB_SCHEMA,
    config.PLATFORM_ORGANIZATION_ID,
    credentialsCipherOf(config),
  );
  const subscriptions = new EhrSubscriptionRepository(
    dataSource,
    config.EHR_CONNECTOR_DB_SCHEMA,
    credentialsCipherOf(config),
  );
  const clients = new EhrClients(registry, rules);
  return {
    setUp: async (endpointId, input) => {
      const endpoint = await registry.get(endpointId);
      if (!endpoint) return undefined;
      return setUpSubscription(endpoint, input, subscriptions, () => clients.for(endpoint));
    },
  };
}

export const ehrConnectorMigrations = (): (new () => { name?: string })[] =>
  [...EHR_CONNECTOR_MIGRATIONS] as (new () => { name?: string })[];
