import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureVersion } from 'node:tls';
import type { TlsFiles } from '@carerelay/config';

export class TlsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsConfigError';
  }
}

function readPem(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new TlsConfigError(`${variable}: cannot read ${file} (${code})`);
  }
}

/** What the API's HTTPS server is created with (Nest's `httpsOptions`). */
export interface ApiHttpsOptions {
  cert: Buffer;
  key: Buffer;
  minVersion: SecureVersion;
}

/**
 * The API listener's HTTPS options from the certificate and key files, read now (at start): an
 * unreadable file, or a key that is not the certificate's, stops the start naming the variable
 * and never the key's content.
 */
export function httpsOptionsOf(files: TlsFiles): ApiHttpsOptions {
  const options: ApiHttpsOptions = {
    cert: readPem('TLS_CERT_FILE', files.certFile),
    key: readPem('TLS_KEY_FILE', files.keyFile),
    minVersion: files.minVersion,
  };
  try {
    createSecureContext(options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'invalid';
    throw new TlsConfigError(
      `TLS_CERT_FILE / TLS_KEY_FILE: not a PEM certificate and its private key (${reason})`,
    );
  }
  return options;
}
