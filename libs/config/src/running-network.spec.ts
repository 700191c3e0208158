import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withRunningNetwork } from './running-network';

describe('withRunningNetwork', () => {
  let dir: string;
  const write = (data: object) => {
    const file = path.join(dir, 'network.json');
    fs.writeFileSync(file, JSON.stringify(data));
    return file;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-network-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('fills what is not set from the running network, and says so', () => {
    const file = write({
      pid: process.pid,
      fhirBaseUrl: 'http://127.0.0.1:8080/fhir',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/carerelay',
    });
    const { env, from } = withRunningNetwork({ FHIR_DB_SCHEMA: 'fhir_api' }, file);
    expect(env).toEqual({
      FHIR_DB_SCHEMA: 'fhir_api',
      FHIR_BASE_URL: 'http://127.0.0.1:8080/fhir',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/carerelay',
    });
    expect(from).toContain(String(process.pid));
  });

  it('never overrides a variable that is set', () => {
    const file = write({
      pid: process.pid,
      fhirBaseUrl: 'http://127.0.0.1:8080/fhir',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/carerelay',
    });
    const given = {
      DATABASE_URL: 'postgres://other/db',
      FHIR_BASE_URL: 'https://fhir.example.org/fhir',
    };
    expect(withRunningNetwork(given, file)).toEqual({ env: given });
  });

  it('ignores a network whose process is gone, and a missing file', () => {
    // A pid far above any the kernel hands out (pid_max is at most 2^22).
    const file = write({ pid: 2 ** 22 + 17, fhirBaseUrl: 'http://127.0.0.1:8080/fhir' });
    expect(withRunningNetwork({}, file)).toEqual({ env: {} });
    expect(withRunningNetwork({}, path.join(dir, 'absent.json'))).toEqual({ env: {} });
  });
});
