import { ConfigError, loadConfig } from '@carerelay/config';
import { parseWebClients } from './referrals/web-clients';
import { WebConfig } from './web.config';

const base = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/carerelay',
};

const problemsOf = (env: Record<string, string>): string => {
  try {
    loadConfig(WebConfig, env);
    return '';
  } catch (error) {
    return (error as ConfigError).problems.join('\n');
  }
};

describe('WebConfig', () => {
  it('password sign-in needs no OIDC settings', () => {
    expect(problemsOf(base)).toBe('');
  });

  it('OIDC sign-in names every missing setting', () => {
    const problems = problemsOf({ ...base, WEB_SIGN_IN: 'oidc' });
    for (const name of [
      'WEB_OIDC_ISSUER',
      'WEB_OIDC_CLIENT_ID',
      'WEB_OIDC_CLIENT_SECRET',
      'WEB_OIDC_REDIRECT_URL',
    ])
      expect(problems).toContain(name);
  });

  it('OIDC sign-in takes an https issuer and the callback URL', () => {
    const ok = {
      ...base,
      WEB_SIGN_IN: 'both',
      WEB_OIDC_ISSUER: 'https://idp.example.org/realms/health',
      WEB_OIDC_CLIENT_ID: 'carerelay-web',
      WEB_OIDC_CLIENT_SECRET: 'a-long-enough-secret',
      WEB_OIDC_REDIRECT_URL: 'https://carerelay.example.org/api/oidc/callback',
    };
    expect(problemsOf(ok)).toBe('');
    expect(problemsOf({ ...ok, WEB_OIDC_ISSUER: 'http://idp.example.org' })).toContain(
      'WEB_OIDC_ISSUER',
    );
  });
});

describe('WEB_FHIR_CLIENTS', () => {
  it('takes private keys of cbo and coordinator clients', () => {
    const clients = parseWebClients(
      JSON.stringify([
        {
          organizationId: 'org-0003',
          role: 'cbo',
          clientId: 'crc_x',
          privateJwk: { kty: 'EC', d: 'x' },
        },
      ]),
    );
    expect(clients).toHaveLength(1);
  });

  it('names every bad entry', () => {
    expect(() => parseWebClients('{')).toThrow(ConfigError);
    let problems = '';
    try {
      parseWebClients(
        JSON.stringify([{ organizationId: 'bad id', role: 'ehr', privateJwk: { kty: 'EC' } }]),
      );
    } catch (error) {
      problems = (error as ConfigError).problems.join('\n');
    }
    expect(problems).toMatch(/organizationId/);
    expect(problems).toMatch(/role/);
    expect(problems).toMatch(/clientId/);
    expect(problems).toMatch(/privateJwk/);
  });
});
