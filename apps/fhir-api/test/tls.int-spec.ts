import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { ConfigError, loadConfig } from '@carerelay/config';
import { testEnv } from '@carerelay/testing';
import { startFhirApi } from '../src/bootstrap';
import { FhirApiConfig } from '../src/fhir-api.config';
import { startTestFhirApi, type TestFhirApi } from './fhir-api.harness';

// Native TLS by configuration (TLS_CERT_FILE, TLS_KEY_FILE): the API's port speaks HTTPS only,
// with a throw-away self-signed certificate made here by openssl.

interface Answer {
  status: number;
  body: string;
  protocol?: string | null;
}

/** A GET over HTTPS trusting `ca` only (undefined: the default trust store). */
function getHttps(url: string, ca?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpsGet(
      url,
      { ca, headers: { accept: 'application/fhir+json' }, agent: false },
      (response) => {
        const protocol = (response.socket as TLSSocket).getProtocol();
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body, protocol }));
      },
    );
    request.on('error', reject);
    request.setTimeout(10_000, () => request.destroy(new Error('timed out')));
  });
}

function getHttp(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.setTimeout(10_000, () => request.destroy(new Error('timed out')));
  });
}

/** A self-signed certificate for 127.0.0.1 and localhost, valid one day. */
function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt.pem`);
  const key = path.join(dir, `${name}.key.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

describe('FHIR API with native TLS', () => {
  let dir: string;
  let files: { cert: string; key: string };
  let ca: Buffer;
  let api: TestFhirApi;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fhir-tls-'));
    files = selfSigned(dir, 'server');
    ca = readFileSync(files.cert);
    api = await startTestFhirApi({
      TLS_CERT_FILE: files.cert,
      TLS_KEY_FILE: files.key,
      FHIR_BASE_URL: 'https://127.0.0.1:8080/fhir',
    });
  }, 60_000);

  afterAll(async () => {
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers /fhir/metadata over HTTPS (TLS 1.2+) to a client that trusts the CA', async () => {
    expect(api.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/fhir$/);
    const answer = await getHttps(`${api.baseUrl}/metadata`, ca);
    expect(answer.status).toBe(200);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(answer.protocol);
    const statement = JSON.parse(answer.body) as {
      resourceType: string;
      implementation?: { url?: string };
    };
    expect(statement.resourceType).toBe('CapabilityStatement');
    expect(statement.implementation?.url).toBe(api.baseUrl);
  });

  it('is refused by a client that does not trust the certificate', async () => {
    await expect(getHttps(`${api.baseUrl}/metadata`)).rejects.toThrow(/self.signed/i);
  });

  it('does not answer plain HTTP on the API port', async () => {
    const plain = api.baseUrl.replace(/^https:/, 'http:');
    await expect(getHttp(`${plain}/metadata`)).rejects.toThrow();
  });

  // Services call it through fhir-kit-client, which sends with undici's request API; the web app
  // and the tools use fetch.
  it.each([
    [
      'fetch',
      'fetch(process.argv[1]).then((r) => console.log(r.status), (e) => console.log(e.cause?.code ?? e.message))',
    ],
    [
      "undici's request",
      'require("undici").request(process.argv[1]).then((r) => console.log(r.statusCode), (e) => console.log(e.code ?? e.message))',
    ],
  ])(
    "is trusted by another process's %s with NODE_EXTRA_CA_CERTS",
    async (_client, script) => {
      const status = (env: NodeJS.ProcessEnv) =>
        new Promise<string>((resolve) => {
          execFile(
            process.execPath,
            ['-e', script, `${api.baseUrl}/metadata`],
            { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 },
            (_error, stdout) => resolve(stdout.trim()),
          );
        });
      expect(await status({ NODE_EXTRA_CA_CERTS: files.cert })).toBe('200');
      expect(await status({})).toMatch(/SELF_SIGNED/);
    },
    30_000,
  );

  describe('refused at start', () => {
    const env = () => ({
      ...testEnv(),
      FHIR_API_PORT: '0',
      FHIR_DB_SCHEMA: 'fhir_api_tls_refused',
      FHIR_AUTH_DISABLED: 'true',
      LOG_LEVEL: 'silent',
      NODE_ENV: 'test',
    });

    it('with only one of the certificate and key files', () => {
      expect(() => loadConfig(FhirApiConfig, { ...env(), TLS_CERT_FILE: files.cert })).toThrow(
        ConfigError,
      );
      expect(() => loadConfig(FhirApiConfig, { ...env(), TLS_CERT_FILE: files.cert })).toThrow(
        /TLS_KEY_FILE \(missing\): must be set with TLS_CERT_FILE/,
      );
      expect(() => loadConfig(FhirApiConfig, { ...env(), TLS_KEY_FILE: files.key })).toThrow(
        /TLS_CERT_FILE \(missing\): must be set with TLS_KEY_FILE/,
      );
    });

    it('with a file it cannot read, naming the variable', async () => {
      const config = loadConfig(FhirApiConfig, {
        ...env(),
        TLS_CERT_FILE: files.cert,
        TLS_KEY_FILE: path.join(dir, 'missing.key.pem'),
      });
      await expect(startFhirApi(config)).rejects.toThrow(
        /^TLS_KEY_FILE: cannot read .*missing\.key\.pem \(ENOENT\)$/,
      );
    });

    it("with a key that is not the certificate's", async () => {
      const other = selfSigned(dir, 'other');
      const config = loadConfig(FhirApiConfig, {
        ...env(),
        TLS_CERT_FILE: files.cert,
        TLS_KEY_FILE: other.key,
      });
      await expect(startFhirApi(config)).rejects.toThrow(/TLS_CERT_FILE \/ TLS_KEY_FILE/);
    });
  });
});
