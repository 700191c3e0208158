import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EhrEndpointInput } from '../ehr-endpoint.input';
import type { EhrEndpoint } from '../ehr-endpoint.registry';
import {
  EHR_EXIT,
  EHR_USAGE,
  endpointIdOf,
  isEhrCommand,
  runEhrCli,
  type EhrRegistryPort,
  type EhrSubscriptionPort,
} from './ehr.commands';
import {
  ehrSubscriptionResource,
  notificationUrlOf,
  type SubscriptionSetupInput,
} from '../../subscription/subscription-setup';

/** The registry's upsert/list in memory, with its defaults (owner reference, poll interval). */
class MemoryRegistry implements EhrRegistryPort {
  readonly rows = new Map<string, EhrEndpoint>();
  opened = 0;
  async upsert(input: EhrEndpointInput): Promise<EhrEndpoint> {
    const endpoint: EhrEndpoint = {
      id: input.id,
      organizationId: input.organizationId,
      baseUrl: input.baseUrl,
      auth: input.auth,
      tokenUrl: input.tokenUrl,
      clientId: input.clientId,
      hasCredentials: input.privateJwk !== undefined,
      scope: input.scope,
      modes: input.modes,
      platformOwnerReference: input.platformOwnerReference ?? 'Organization/carerelay-platform',
      pollIntervalSeconds: input.pollIntervalSeconds ?? 900,
      enabled: input.enabled ?? true,
    };
    this.rows.set(endpoint.id, endpoint);
    return endpoint;
  }
  async list(): Promise<EhrEndpoint[]> {
    return [...this.rows.values()].sort((a, b) => a.id.localeCompare(b.id));
  }
  async reencryptAll(): Promise<number> {
    return 0;
  }
}

/** A real EC P-384 private JWK (the validator imports it). */
const ecPrivateJwk = (kid: string) => ({
  ...generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'jwk' }),
  kid,
});

let registry: MemoryRegistry;
let dir: string;
/** ehr:subscribe's set-ups, answered as setUpSubscription answers (a fixed secret). */
let subscribed: Array<{ endpointId: string; input: SubscriptionSetupInput }>;
const subscriptions: EhrSubscriptionPort = {
  setUp: async (endpointId, input) => {
    if (!registry.rows.has(endpointId)) return undefined;
    subscribed.push({ endpointId, input });
    const endpoint = registry.rows.get(endpointId)!;
    const url = notificationUrlOf(input.publicUrl, endpointId);
    return {
      endpointId,
      notificationUrl: url,
      subscription: ehrSubscriptionResource(
        endpoint,
        url,
        'the-secret',
        input.content ?? 'id-only',
      ),
    };
  },
};

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const code = await runEhrCli(argv, {
    out: (t) => (out += t),
    err: (t) => (err += t),
    registry: async () => {
      registry.opened++;
      return registry;
    },
    subscriptions: async () => subscriptions,
    cwd: dir,
  });
  return { code, out, err, json: out ? JSON.parse(out) : undefined };
}

const BASE = 'http://127.0.0.1:8091/fhir';

beforeEach(async () => {
  registry = new MemoryRegistry();
  subscribed = [];
  dir = await mkdtemp(path.join(tmpdir(), 'cli-ehr-'));
});

describe('ehr:add', () => {
  it('adds a push/pull endpoint without auth, id from the organization, and prints it as JSON', async () => {
    const r = await run([
      'ehr:add',
      '--org',
      'Hosp.SouthShore',
      '--base',
      BASE,
      '--mode',
      'push,pull',
    ]);
    expect(r).toMatchObject({ code: EHR_EXIT.ok, err: '' });
    expect(r.json).toEqual({
      id: 'hosp-southshore',
      organizationId: 'Hosp.SouthShore',
      baseUrl: BASE,
      auth: 'none',
      hasCredentials: false,
      modes: ['push', 'pull'],
      platformOwnerReference: 'Organization/carerelay-platform',
      pollIntervalSeconds: 900,
      enabled: true,
    });
    expect([...registry.rows.keys()]).toEqual(['hosp-southshore']);
  });

  it('takes --id, subscribe, --owner, --poll-seconds and --disabled', async () => {
    const r = await run([
      'ehr:add',
      '--id',
      'northside',
      '--org',
      'hosp-northside',
      '--base',
      BASE,
      '--mode',
      'push, subscribe',
      '--owner',
      'http://ehr.example/fhir/Organization/carerelay',
      '--poll-seconds',
      '60',
      '--disabled',
    ]);
    expect(r.code).toBe(EHR_EXIT.ok);
    expect(r.json).toMatchObject({
      id: 'northside',
      modes: ['push', 'subscribe'],
      platformOwnerReference: 'http://ehr.example/fhir/Organization/carerelay',
      pollIntervalSeconds: 60,
      enabled: false,
    });
  });

  it('adds a SMART Backend Services endpoint with a private JWK file (relative to the cwd)', async () => {
    const key = ecPrivateJwk('k1');
    await writeFile(path.join(dir, 'key.json'), JSON.stringify(key));
    const r = await run([
      'ehr:add',
      '--org',
      'hosp-a',
      '--base',
      'https://ehr.example.org/fhir/r4',
      '--mode',
      'pull',
      '--auth',
      'smart',
      '--client-id',
      'carerelay',
      '--jwk-file',
      'key.json',
      '--token-url',
      'https://ehr.example.org/oauth2/token',
      '--scope',
      'system/Task.ru',
    ]);
    expect(r.err).toBe('');
    expect(r.json).toMatchObject({
      auth: 'smart-backend',
      clientId: 'carerelay',
      hasCredentials: true,
      tokenUrl: 'https://ehr.example.org/oauth2/token',
      scope: 'system/Task.ru',
    });
    expect(r.out).not.toContain(key.d as string);
    const stored = registry.rows.get('hosp-a');
    expect(stored?.hasCredentials).toBe(true);
  });

  it('refuses a token URL of another origin unless the operator allows it', async () => {
    await writeFile(path.join(dir, 'key2.json'), JSON.stringify(ecPrivateJwk('k2')));
    const argv = [
      'ehr:add',
      '--org',
      'hosp-b',
      '--base',
      'https://ehr.example.org/fhir',
      '--mode',
      'pull',
      '--auth',
      'smart',
      '--client-id',
      'c',
      '--jwk-file',
      'key2.json',
      '--token-url',
      'https://attacker.example/token',
    ];
    const refused = await run(argv);
    expect(refused.code).toBe(EHR_EXIT.dataError);
    expect(refused.err).toMatch(/tokenUrl must have the baseUrl's origin/);
    expect(registry.rows.has('hosp-b')).toBe(false);
    let out = '';
    const allowed = await runEhrCli(argv, {
      out: (t) => (out += t),
      err: () => undefined,
      registry: async () => registry,
      cwd: dir,
      rules: { allowedTokenOrigins: ['https://attacker.example'] },
    });
    expect(allowed).toBe(EHR_EXIT.ok);
    expect(JSON.parse(out)).toMatchObject({ id: 'hosp-b', hasCredentials: true });
  });

  it('refuses what the shared validator refuses (65), naming each problem, before any database', async () => {
    const r = await run([
      'ehr:add',
      '--org',
      'o',
      '--base',
      'ftp://x/fhir/',
      '--mode',
      'push,fax',
      '--poll-seconds',
      'soon',
    ]);
    expect(r.code).toBe(EHR_EXIT.dataError);
    const problems = (JSON.parse(r.err) as { problems: string[] }).problems.join('\n');
    expect(problems).toMatch(/baseUrl/);
    expect(problems).toMatch(/each mode must be one of push, subscribe, pull/);
    expect(problems).toMatch(/pollIntervalSeconds/);
    expect(registry.opened).toBe(0);
  });

  it('needs the SMART settings with --auth smart, and a readable private JWK with a kid', async () => {
    const missing = await run([
      'ehr:add',
      '--org',
      'o',
      '--base',
      BASE,
      '--mode',
      'pull',
      '--auth',
      'smart',
    ]);
    expect(missing.code).toBe(EHR_EXIT.dataError);
    expect(missing.err).toMatch(/tokenUrl/);
    expect(missing.err).toMatch(/clientId is required/);
    expect(missing.err).toMatch(/privateJwk \(a private JWK object\) is required/);

    const smart = (file: string) => [
      'ehr:add',
      '--org',
      'o',
      '--base',
      BASE,
      '--mode',
      'pull',
      '--auth',
      'smart',
      '--client-id',
      'c',
      '--token-url',
      'http://127.0.0.1:9/token',
      '--jwk-file',
      file,
    ];
    expect((await run(smart('nope.json'))).err).toMatch(/cannot read --jwk-file/);
    await writeFile(path.join(dir, 'bad.json'), 'not json');
    expect((await run(smart('bad.json'))).err).toMatch(/is not JSON/);
    await writeFile(path.join(dir, 'public.json'), JSON.stringify({ kty: 'EC', x: 'x', kid: 'k' }));
    expect((await run(smart('public.json'))).err).toMatch(/not a private JWK/);
    await writeFile(path.join(dir, 'nokid.json'), JSON.stringify({ kty: 'EC', d: 'd' }));
    const noKid = await run(smart('nokid.json'));
    expect(noKid).toMatchObject({ code: EHR_EXIT.dataError, err: expect.stringMatching(/no kid/) });
    expect(registry.opened).toBe(0);
  });

  it('usage errors (64): missing flags, unknown flags, unknown auth, SMART flags without smart', async () => {
    for (const argv of [
      ['ehr:add', '--org', 'o', '--base', BASE],
      ['ehr:add', '--org', 'o', '--base', BASE, '--mode', 'push', '--colour', 'blue'],
      ['ehr:add', '--org', 'o', '--base', BASE, '--mode', 'push', '--auth', 'basic'],
      ['ehr:add', '--org', 'o', '--base', BASE, '--mode', 'push', '--client-id', 'c'],
      ['ehr:add', '--org', 'o', '--base', BASE, '--mode', 'push', 'extra'],
      ['ehr:remove'],
    ]) {
      const r = await run(argv);
      expect({ argv, code: r.code }).toEqual({ argv, code: EHR_EXIT.usage });
      expect(r.err).toMatch(/ehr:add --org/);
    }
    expect(registry.opened).toBe(0);
  });
});

describe('ehr:list', () => {
  it('prints every endpoint as JSON, replaced ones once', async () => {
    expect((await run(['ehr:list'])).json).toEqual([]);
    await run(['ehr:add', '--org', 'b-org', '--base', `${BASE}/b`, '--mode', 'push']);
    await run(['ehr:add', '--org', 'a-org', '--base', `${BASE}/a`, '--mode', 'pull']);
    await run(['ehr:add', '--org', 'a-org', '--base', `${BASE}/a2`, '--mode', 'pull,push']);
    const list = await run(['ehr:list']);
    expect(list.code).toBe(EHR_EXIT.ok);
    expect(list.json.map((e: EhrEndpoint) => [e.id, e.baseUrl, e.modes])).toEqual([
      ['a-org', `${BASE}/a2`, ['pull', 'push']],
      ['b-org', `${BASE}/b`, ['push']],
    ]);
    expect((await run(['ehr:list', 'extra'])).code).toBe(EHR_EXIT.usage);
  });
});

describe('registration in the CLI', () => {
  it('knows its commands and shows them in the CLI usage', () => {
    expect(isEhrCommand('ehr:add')).toBe(true);
    expect(isEhrCommand('ehr:list')).toBe(true);
    expect(isEhrCommand('clients:add')).toBe(false);
    expect(isEhrCommand(undefined)).toBe(false);
    expect(EHR_USAGE).toMatch(/ehr:add --org <Organization id> --base <FHIR base URL> --mode/);
    expect(EHR_USAGE).toMatch(/ehr:list/);
  });

  it('derives endpoint ids the validator accepts', () => {
    expect(endpointIdOf('Hosp.North_Side')).toBe('hosp-north-side');
    expect(endpointIdOf('-x')).toBe('x');
  });
});

describe('ehr:subscribe', () => {
  beforeEach(async () => {
    await run([
      'ehr:add',
      '--id',
      'north',
      '--org',
      'hosp-north',
      '--base',
      BASE,
      '--mode',
      'pull',
    ]);
  });

  it('prints the Subscription the EHR must hold: Task topic, rest-hook to the connector, secret header', async () => {
    const r = await run([
      'ehr:subscribe',
      '--id',
      'north',
      '--public-url',
      'https://carerelay.example/ehr-connector/',
      '--content',
      'full-resource',
      '--heartbeat',
      '300',
    ]);
    expect(r).toMatchObject({ code: EHR_EXIT.ok, err: '' });
    expect(subscribed).toEqual([
      {
        endpointId: 'north',
        input: expect.objectContaining({
          publicUrl: 'https://carerelay.example/ehr-connector/',
          content: 'full-resource',
          heartbeatSeconds: 300,
        }),
      },
    ]);
    expect(r.json.notificationUrl).toBe(
      'https://carerelay.example/ehr-connector/ehr-notifications/north',
    );
    expect(r.json.subscription).toMatchObject({
      resourceType: 'Subscription',
      criteria: 'http://hl7.org/fhir/us/sdoh-clinicalcare/SubscriptionTopic/Task',
      channel: {
        type: 'rest-hook',
        endpoint: 'https://carerelay.example/ehr-connector/ehr-notifications/north',
        header: ['Authorization: Bearer the-secret'],
      },
    });
  });

  it('refuses what it cannot set up: usage 64, invalid or unknown 65', async () => {
    expect((await run(['ehr:subscribe', '--id', 'north'])).code).toBe(EHR_EXIT.usage);
    const bad = await run([
      'ehr:subscribe',
      '--id',
      'north',
      '--public-url',
      'ftp://x',
      '--content',
      'everything',
      '--heartbeat',
      'often',
    ]);
    expect(bad.code).toBe(EHR_EXIT.dataError);
    expect(bad.err).toMatch(/publicUrl/);
    expect(bad.err).toMatch(/content/);
    expect(bad.err).toMatch(/heartbeatSeconds/);
    const unknown = await run([
      'ehr:subscribe',
      '--id',
      'south',
      '--public-url',
      'http://c.example',
    ]);
    expect(unknown).toMatchObject({ code: EHR_EXIT.dataError, err: 'no EHR endpoint south\n' });
    expect(subscribed).toEqual([]);
  });
});
