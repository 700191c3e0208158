import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import type { JWK } from 'jose';
import { SmartBackendTokenSource } from '@carerelay/fhir-client';
import { WEB_CONFIG, WebConfig } from '../web.config';

export type PlatformService = 'followup' | 'directory' | 'ehr-connector' | 'fhir';

/** A service API's refusal (its status and problem detail) or no answer (status 0). */
export class ServiceCallError extends Error {
  override name = 'ServiceCallError';
  constructor(
    readonly service: PlatformService,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${service}: ${status === 0 ? 'no answer' : `HTTP ${status}`}`);
  }
}

/**
 * The services' APIs: as the platform's client where those routes admit the platform or an
 * operator only (every caller here has already checked that the signed-in person may do what it
 * asks: their organization's referral or service, a coordinator for replays), or with the
 * person's organization's token where the route admits it (directory reads).
 */
@Injectable()
export class ServicesGateway {
  private readonly tokens?: SmartBackendTokenSource;
  private readonly bases: Record<PlatformService, string>;

  constructor(@Inject(WEB_CONFIG) config: WebConfig) {
    const trim = (url: string) => url.replace(/\/+$/, '');
    this.bases = {
      followup: trim(config.FOLLOWUP_SERVICE_URL),
      directory: trim(config.DIRECTORY_SERVICE_URL),
      'ehr-connector': trim(config.EHR_CONNECTOR_URL),
      fhir: trim(config.FHIR_API_BASE_URL),
    };
    if (config.PLATFORM_CLIENT_ID && config.PLATFORM_PRIVATE_JWK.trim()) {
      const privateJwk = JSON.parse(config.PLATFORM_PRIVATE_JWK) as JWK;
      this.tokens = new SmartBackendTokenSource({
        tokenUrl: `${this.bases.fhir}/auth/token`,
        clientId: config.PLATFORM_CLIENT_ID,
        privateJwk,
        alg: privateJwk.kty === 'RSA' ? 'RS384' : 'ES384',
        scope: 'system/*.rs',
      });
    }
  }

  get connected(): boolean {
    return this.tokens !== undefined;
  }

  async request<T>(
    service: PlatformService,
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    body?: unknown,
    asOrganization?: () => Promise<string>,
  ): Promise<T> {
    const tokens = this.tokens;
    if (!tokens && !asOrganization)
      throw new ServiceUnavailableException('This part of CareRelay is not connected yet');
    const token = () => (asOrganization ? asOrganization() : tokens!.token());
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(`${this.bases[service]}/${path}`, {
        method,
        redirect: 'error',
        headers: {
          accept: service === 'fhir' ? 'application/fhir+json' : 'application/json',
          authorization: `Bearer ${await token()}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
      if (!response) throw new ServiceCallError(service, 0, '');
      if (response.status === 401 && attempt === 1 && !asOrganization) {
        tokens!.invalidate();
        continue;
      }
      const answer = (await response.json().catch(() => undefined)) as unknown;
      if (!response.ok) {
        const problem = answer as { detail?: unknown; message?: unknown } | undefined;
        const detail = problem?.detail ?? problem?.message;
        throw new ServiceCallError(
          service,
          response.status,
          Array.isArray(detail) ? detail.join('; ') : String(detail ?? ''),
        );
      }
      return answer as T;
    }
  }
}
