import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FHIR_API_ALL_MIGRATIONS } from '../../migrations';
import { EXIT, runCli } from './clients.commands';
import { fhirApiMigrations } from './fhir-api.migrations';

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    baseUrl: 'http://localhost:8080/fhir',
    dataSource: () => Promise.reject(new Error('these commands must not need the database')),
    out: (t) => (out += t),
    err: (t) => (err += t),
  });
  return { code, out, err };
}

describe('cli usage', () => {
  it('prints usage without a command (64) and with help (0)', async () => {
    expect((await run([])).code).toBe(EXIT.usage);
    const help = await run(['help']);
    expect(help.code).toBe(EXIT.ok);
    expect(help.out).toMatch(/clients:add --org/);
  });

  it('refuses unknown commands, unknown options and missing options', async () => {
    expect((await run(['clients:remove'])).code).toBe(EXIT.usage);
    expect((await run(['clients:add', '--org', 'o', '--role', 'ehr'])).err).toMatch(
      /needs --org, --role and --jwks/,
    );
    expect((await run(['clients:add', '--organisation', 'o'])).code).toBe(EXIT.usage);
    expect((await run(['clients:disable'])).code).toBe(EXIT.usage);
    expect((await run(['clients:list', 'extra'])).code).toBe(EXIT.usage);
  });

  it('refuses an unreadable or non-JSON JWKS file before touching the database', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cli-'));
    const file = path.join(dir, 'jwks.json');
    await writeFile(file, 'not json');
    const bad = await run(['clients:add', '--org', 'o', '--role', 'ehr', '--jwks', file]);
    expect(bad).toMatchObject({ code: EXIT.dataError, err: expect.stringMatching(/is not JSON/) });
    const missing = await run([
      'clients:add',
      '--org',
      'o',
      '--role',
      'ehr',
      '--jwks',
      path.join(dir, 'nope'),
    ]);
    expect(missing.code).toBe(EXIT.dataError);
  });
});

describe('clients:add-batch', () => {
  it('needs --file, and refuses a file that is not an array of { org, role, jwks } before the database', async () => {
    expect((await run(['clients:add-batch'])).code).toBe(EXIT.usage);
    const dir = await mkdtemp(path.join(tmpdir(), 'cli-'));
    const file = path.join(dir, 'batch.json');
    await writeFile(file, JSON.stringify([{ org: 'o', role: 'cbo' }]));
    const bad = await run(['clients:add-batch', '--file', file]);
    expect(bad).toMatchObject({ code: EXIT.dataError, err: expect.stringMatching(/JSON array/) });
    const missing = await run(['clients:add-batch', '--file', path.join(dir, 'nope')]);
    expect(missing.code).toBe(EXIT.dataError);
  });
});

describe('cli migrations', () => {
  it('are exactly the app’s list (store, composite search index, auth, audit, consent access, subscriptions)', () => {
    const names = (list: (new () => unknown)[]) =>
      list.map((m) => (new m() as { name?: string }).name);
    expect(names(fhirApiMigrations())).toEqual(names(FHIR_API_ALL_MIGRATIONS));
    expect(names(fhirApiMigrations())).toEqual([
      'MessagingTables1732300000000',
      'FhirStoreTables1732400000000',
      'FhirSearchIndexComposite1733200000000',
      'AuthTables1732500000000',
      'AuditTables1732500001000',
      'FhirConsentAccess1732700000000',
      'SubscriptionTables1732700000000',
    ]);
  });
});
