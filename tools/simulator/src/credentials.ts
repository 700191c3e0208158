import { readFileSync } from 'node:fs';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { FhirApiClient, SmartBackendTokenSource } from '@carerelay/fhir-client';

/** A registered SMART Backend Services client of the demo, with its private key. */
export interface DemoClient {
  clientId: string;
  organizationId: string;
  name: string;
  role: 'ehr' | 'cbo' | 'coordinator' | 'platform';
  alg: 'ES384' | 'RS384';
  privateJwk: JWK;
  publicJwks: { keys: JWK[] };
}

/** What .carerelay/<state>/clients.json holds. */
export interface DemoClientsFile {
  fhirBaseUrl: string;
  tokenUrl: string;
  clients: DemoClient[];
}

export const SCOPES_BY_ROLE: Record<DemoClient['role'], string> = {
  ehr: 'system/*.cruds',
  cbo: 'system/*.cruds',
  coordinator: 'system/*.rs',
  platform: 'system/*.cruds',
};

/** A fresh ES384 key pair: the private JWK (with kid and alg) and the public JWKS to register. */
export async function newKeyPair(
  kid: string,
): Promise<{ privateJwk: JWK; publicJwks: { keys: JWK[] } }> {
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES384', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' };
  return { privateJwk, publicJwks: { keys: [publicJwk] } };
}

export const tokenUrlOf = (fhirBaseUrl: string): string =>
  `${fhirBaseUrl.replace(/\/+$/, '')}/auth/token`;

/**
 * A FhirApiClient acting as `client`. With CARERELAY_AUTH_MODE=dev (the FHIR API runs with
 * FHIR_AUTH_DISABLED=true because it does not serve SMART yet) the client names itself with the
 * development header `X-Dev-Actor: <role>:<organization>` instead of a token.
 */
export function fhirClientFor(
  client: DemoClient,
  fhirBaseUrl: string,
  authMode = process.env.CARERELAY_AUTH_MODE ?? 'smart',
): FhirApiClient {
  if (authMode === 'dev') {
    return new FhirApiClient(fhirBaseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': `${client.role}:${client.organizationId}` },
    });
  }
  const tokens = new SmartBackendTokenSource({
    tokenUrl: tokenUrlOf(fhirBaseUrl),
    clientId: client.clientId,
    privateJwk: client.privateJwk,
    alg: client.alg,
    scope: SCOPES_BY_ROLE[client.role],
  });
  return new FhirApiClient(fhirBaseUrl, tokens);
}

export function readClientsFile(file: string): DemoClientsFile {
  return JSON.parse(readFileSync(file, 'utf8')) as DemoClientsFile;
}
