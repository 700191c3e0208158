import { IsInt, Max, Min } from 'class-validator';
import { ConfigError, loadConfig } from './load-config';
import { ServiceConfig, brokersOf, tlsFilesOf } from './common.config';

class ExampleConfig extends ServiceConfig {
  @IsInt()
  @Min(1)
  @Max(10)
  RETRIES = 3;
}

const valid = {
  KAFKA_BROKERS: '127.0.0.1:9092,127.0.0.1:9094',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/carerelay',
};

describe('loadConfig', () => {
  it('reads, converts and applies defaults', () => {
    const config = loadConfig(ExampleConfig, { ...valid, RETRIES: '7' });
    expect(config.RETRIES).toBe(7);
    expect(config.LOG_LEVEL).toBe('info');
    expect(brokersOf(config)).toEqual(['127.0.0.1:9092', '127.0.0.1:9094']);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names every missing or bad variable in one error', () => {
    let caught: unknown;
    try {
      loadConfig(ExampleConfig, { DATABASE_URL: 'mysql://x', RETRIES: '99' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join('\n');
    expect(problems).toMatch(/KAFKA_BROKERS \(missing\)/);
    expect(problems).toMatch(/DATABASE_URL \(got "mysql:\/\/x"\): must be a postgres:\/\/ URL/);
    expect(problems).toMatch(/RETRIES \(got "99"\)/);
  });

  it('rejects a broker list without ports', () => {
    expect(() => loadConfig(ExampleConfig, { ...valid, KAFKA_BROKERS: 'localhost' })).toThrow(
      /KAFKA_BROKERS/,
    );
  });

  it('takes TLS certificate and key files together, or neither', () => {
    expect(tlsFilesOf(loadConfig(ExampleConfig, valid))).toBeUndefined();
    expect(
      tlsFilesOf(
        loadConfig(ExampleConfig, { ...valid, TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem' }),
      ),
    ).toEqual({ certFile: '/c.pem', keyFile: '/k.pem', minVersion: 'TLSv1.2' });
    expect(() => loadConfig(ExampleConfig, { ...valid, TLS_CERT_FILE: '/c.pem' })).toThrow(
      /TLS_KEY_FILE \(missing\): must be set with TLS_CERT_FILE/,
    );
    expect(() => loadConfig(ExampleConfig, { ...valid, TLS_KEY_FILE: '/k.pem' })).toThrow(
      /TLS_CERT_FILE \(missing\): must be set with TLS_KEY_FILE/,
    );
    expect(() => loadConfig(ExampleConfig, { ...valid, TLS_MIN_VERSION: 'TLSv1.1' })).toThrow(
      /TLS_MIN_VERSION/,
    );
  });
});
