import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import { FhirApiClient, SmartBackendTokenSource } from '@carerelay/fhir-client';
import type { EhrConnectorConfig } from '../ehr-connector.config';
import type { EhrEndpoint } from '../registry/ehr-endpoint.registry';

/** CareRelay's FHIR API as the platform's system client (fhir-kit-client underneath). */
export function platformClient(config: EhrConnectorConfig): FhirApiClient {
  if (config.FHIR_API_AUTH === 'dev') {
    return new FhirApiClient(config.FHIR_API_BASE_URL, undefined, {
      customHeaders: { 'X-Dev-Actor': `platform:${config.PLATFORM_ORGANIZATION_ID}` },
    });
  }
  const privateJwk = JSON.parse(config.PLATFORM_PRIVATE_JWK) as JWK;
  const tokens = new SmartBackendTokenSource({
    tokenUrl: `${config.FHIR_API_BASE_URL}/auth/token`,
    clientId: config.PLATFORM_CLIENT_ID,
    privateJwk,
    alg: privateJwk.kty === 'EC' ? 'ES384' : 'RS384',
    scope: config.PLATFORM_SCOPES,
  });
  return new FhirApiClient(config.FHIR_API_BASE_URL, tokens);
}

/**
 * One fhir-kit-client per EHR endpoint, with SMART Backend Services tokens when the endpoint
 * says so (the private key is read from its file when the client is first made).
 */
export class EhrClients {
  private readonly clients = new Map<string, { key: string; client: FhirApiClient }>();

  for(endpoint: EhrEndpoint): FhirApiClient {
    const key = JSON.stringify([
      endpoint.baseUrl,
      endpoint.auth,
      endpoint.tokenUrl,
      endpoint.clientId,
      endpoint.privateJwkFile,
      endpoint.scope,
    ]);
    const cached = this.clients.get(endpoint.id);
    if (cached?.key === key) return cached.client;
    let tokens: SmartBackendTokenSource | undefined;
    if (endpoint.auth === 'smart-backend') {
      const privateJwk = JSON.parse(readFileSync(endpoint.privateJwkFile as string, 'utf8')) as JWK;
      tokens = new SmartBackendTokenSource({
        tokenUrl: endpoint.tokenUrl as string,
        clientId: endpoint.clientId as string,
        privateJwk,
        alg: privateJwk.kty === 'EC' ? 'ES384' : 'RS384',
        scope: endpoint.scope ?? 'system/Task.ru system/Procedure.c system/*.rs',
      });
    }
    const client = new FhirApiClient(endpoint.baseUrl, tokens);
    this.clients.set(endpoint.id, { key, client });
    return client;
  }
}

/** `Type/id` of a reference relative to `base` (or already relative), else undefined. */
export function relativeTo(reference: string | undefined, base: string): string | undefined {
  if (!reference) return undefined;
  const trimmed = reference.replace(/\/_history\/[^/]+$/, '');
  const local = trimmed.startsWith(`${base}/`) ? trimmed.slice(base.length + 1) : trimmed;
  return /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(local) ? local : undefined;
}
