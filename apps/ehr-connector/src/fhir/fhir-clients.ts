import { createHash } from 'node:crypto';
import type { JWK } from 'jose';
import { FhirApiClient, SmartBackendTokenSource } from '@carerelay/fhir-client';
import type { EhrConnectorConfig } from '../ehr-connector.config';
import { originOf, tokenUrlAllowed, type EhrEndpointRules } from '../registry/ehr-endpoint.input';
import type { EhrEndpoint, EhrEndpointRegistry } from '../registry/ehr-endpoint.registry';

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

/** An outbound request the connector refuses: it would leave the endpoint's origin. */
export class OutboundRefused extends Error {
  override name = 'OutboundRefused';
  constructor(what: string) {
    super(`refused: ${what} outside the endpoint's origin`);
  }
}

/**
 * One fhir-kit-client per EHR endpoint, with SMART Backend Services tokens when the endpoint
 * says so: its private key comes from the registry (stored encrypted), and assertions go only to
 * a token URL of the endpoint's origin or one the operator allows.
 */
export class EhrClients {
  private readonly clients = new Map<string, { key: string; client: FhirApiClient }>();

  constructor(
    private readonly registry: Pick<EhrEndpointRegistry, 'privateJwkOf'>,
    private readonly rules: EhrEndpointRules = {},
  ) {}

  async for(endpoint: EhrEndpoint): Promise<FhirApiClient> {
    let privateJwk: JWK | undefined;
    if (endpoint.auth === 'smart-backend') {
      if (!endpoint.tokenUrl || !tokenUrlAllowed(endpoint.baseUrl, endpoint.tokenUrl, this.rules))
        throw new OutboundRefused('token URL');
      privateJwk = await this.registry.privateJwkOf(endpoint.id);
    }
    const key = createHash('sha256')
      .update(
        JSON.stringify([
          endpoint.baseUrl,
          endpoint.auth,
          endpoint.tokenUrl,
          endpoint.clientId,
          endpoint.scope,
          privateJwk,
        ]),
      )
      .digest('hex');
    const cached = this.clients.get(endpoint.id);
    if (cached?.key === key) return cached.client;
    const tokens = privateJwk
      ? new SmartBackendTokenSource({
          tokenUrl: endpoint.tokenUrl as string,
          clientId: endpoint.clientId as string,
          privateJwk,
          alg: privateJwk.kty === 'EC' ? 'ES384' : 'RS384',
          scope: endpoint.scope ?? 'system/Task.ru system/Procedure.c system/*.rs',
        })
      : undefined;
    const client = new FhirApiClient(endpoint.baseUrl, tokens);
    this.clients.set(endpoint.id, { key, client });
    return client;
  }
}

/** Whether `url` is on the origin of `baseUrl` (a next-page link, a reference to follow). */
export const sameOrigin = (url: string | undefined, baseUrl: string): boolean =>
  url !== undefined && originOf(url) !== undefined && originOf(url) === originOf(baseUrl);

/** `Type/id` of a reference relative to `base` (or already relative), else undefined. */
export function relativeTo(reference: string | undefined, base: string): string | undefined {
  if (!reference) return undefined;
  const trimmed = reference.replace(/\/_history\/[^/]+$/, '');
  const local = trimmed.startsWith(`${base}/`) ? trimmed.slice(base.length + 1) : trimmed;
  return /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(local) ? local : undefined;
}
