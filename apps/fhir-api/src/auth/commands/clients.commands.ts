import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DataSource } from 'typeorm';
import { ClientRegistrationError, ClientRegistry, type RegisteredClient } from '../client.registry';
import { CLI_EXIT, type CliIo } from '@carerelay/config';
import { tokenUrlOf } from '../auth.config';

export const USAGE = `Usage: npm run cli -- <command> [options]

  clients:add --org <Organization id> --role ehr|cbo|coordinator|platform --jwks <file>
      Registers a SMART Backend Services client with its public JWKS (RS384 or ES384 keys)
      and prints { client_id, organization, role, token_url } as JSON.
  clients:add-batch --file <file>
      Registers every client of a JSON array [{ "org", "role", "jwks": <JWKS> }] in one run
      (a demo network's dozens of organizations) and prints their { client_id, … } as an array.
  clients:list
      Prints every registered client as JSON.
  clients:disable <client_id>
      Disables a client: its token requests and its current tokens are refused.

Environment: DATABASE_URL (required), FHIR_BASE_URL (default http://localhost:8080/fhir),
FHIR_DB_SCHEMA (default fhir_api).`;

export const EXIT = CLI_EXIT;

export interface CliContext extends CliIo {
  /** Opened lazily, so that usage errors need no database. */
  dataSource: () => Promise<DataSource>;
  baseUrl: string;
}

class UsageError extends Error {}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

function describeClient(client: RegisteredClient): Record<string, unknown> {
  return {
    client_id: client.clientId,
    organization: client.organizationId,
    role: client.role,
    active: client.active,
    created_at: client.createdAt.toISOString(),
    kids: client.jwks.keys.map((k) => k.kid),
  };
}

async function readJwks(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ClientRegistrationError(`cannot read --jwks ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ClientRegistrationError(`--jwks ${file} is not JSON`);
  }
  // A single JWK is accepted as a one-key set.
  if (value && typeof value === 'object' && 'kty' in value) return { keys: [value] };
  return value;
}

/** A batch file: a JSON array of { org, role, jwks } (the JWKS inline), read before the database. */
async function readBatch(
  file: string,
): Promise<Array<{ org: string; role: string; jwks: unknown }>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new ClientRegistrationError(`cannot read --file ${file}: ${(error as Error).message}`);
  }
  const valid = (item: unknown): item is { org: string; role: string; jwks: unknown } =>
    typeof item === 'object' &&
    item !== null &&
    typeof (item as { org?: unknown }).org === 'string' &&
    typeof (item as { role?: unknown }).role === 'string' &&
    typeof (item as { jwks?: unknown }).jwks === 'object';
  if (!Array.isArray(value) || !value.every(valid))
    throw new ClientRegistrationError(`--file ${file} must be a JSON array of { org, role, jwks }`);
  return value;
}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Runs one CLI command; returns the process exit code. */
export async function runCli(argv: string[], context: CliContext): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'clients:add': {
        const { values, positionals } = parse(rest, {
          org: { type: 'string' },
          role: { type: 'string' },
          jwks: { type: 'string' },
        });
        if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
        const { org, role, jwks } = values as { org?: string; role?: string; jwks?: string };
        if (!org || !role || !jwks)
          throw new UsageError('clients:add needs --org, --role and --jwks');
        const jwksValue = await readJwks(jwks);
        const registry = ClientRegistry.forDataSource(await context.dataSource());
        const client = await registry.add({ organizationId: org, role, jwks: jwksValue });
        context.out(
          json({
            client_id: client.clientId,
            organization: client.organizationId,
            role: client.role,
            token_url: tokenUrlOf(context.baseUrl),
          }),
        );
        return EXIT.ok;
      }
      case 'clients:add-batch': {
        const { values, positionals } = parse(rest, { file: { type: 'string' } });
        const file = (values as { file?: string }).file;
        if (positionals.length > 0 || !file)
          throw new UsageError('clients:add-batch needs --file and nothing else');
        const requests = await readBatch(file);
        const registry = ClientRegistry.forDataSource(await context.dataSource());
        const added: unknown[] = [];
        for (const { org, role, jwks } of requests) {
          const client = await registry.add({ organizationId: org, role, jwks });
          added.push({
            client_id: client.clientId,
            organization: client.organizationId,
            role: client.role,
            token_url: tokenUrlOf(context.baseUrl),
          });
        }
        context.out(json(added));
        return EXIT.ok;
      }
      case 'clients:list': {
        const { positionals } = parse(rest, {});
        if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
        const registry = ClientRegistry.forDataSource(await context.dataSource());
        context.out(json((await registry.list()).map(describeClient)));
        return EXIT.ok;
      }
      case 'clients:disable': {
        const { values, positionals } = parse(rest, { client: { type: 'string' } });
        const clientId = (values as { client?: string }).client ?? positionals[0];
        if (!clientId || positionals.length > 1)
          throw new UsageError('clients:disable needs one client id');
        const registry = ClientRegistry.forDataSource(await context.dataSource());
        if (!(await registry.disable(clientId))) {
          context.err(`no client ${clientId}\n`);
          return EXIT.notFound;
        }
        context.out(json({ client_id: clientId, active: false }));
        return EXIT.ok;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        context.out(`${USAGE}\n`);
        return command === undefined ? EXIT.usage : EXIT.ok;
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      context.err(`${error.message}\n\n${USAGE}\n`);
      return EXIT.usage;
    }
    if (error instanceof ClientRegistrationError) {
      context.err(`${error.message}\n`);
      return EXIT.dataError;
    }
    throw error;
  }
}
