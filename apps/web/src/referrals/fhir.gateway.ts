import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { SmartBackendTokenSource } from '@carerelay/fhir-client';
import type { SessionUser } from '../accounts/account.model';
import { fhirRoleOf } from '../accounts/account.model';
import { WEB_CONFIG, WebConfig } from '../web.config';
import type { Resource } from './referral-view';
import { parseWebClients, type WebOrgClient } from './web-clients';

/** The header naming the signed-in person; the FHIR API takes it from trusted web clients only. */
export const ON_BEHALF_OF_HEADER = 'x-on-behalf-of';

export class FhirCallError extends Error {
  override name = 'FhirCallError';
  constructor(
    readonly status: number,
    readonly diagnostics: string,
  ) {
    super(`FHIR API: HTTP ${status}`);
  }
}

const SCOPES = { cbo: 'system/*.cruds', coordinator: 'system/*.rs' } as const;

/**
 * The FHIR API as the signed-in person's organization: its SMART Backend Services client, with
 * the person named on every request (X-On-Behalf-Of) so that the AuditEvent names them.
 */
@Injectable()
export class FhirGateway {
  private readonly clients = new Map<
    string,
    { client: WebOrgClient; tokens: SmartBackendTokenSource }
  >();
  readonly baseUrl: string;

  constructor(@Inject(WEB_CONFIG) config: WebConfig) {
    this.baseUrl = config.FHIR_API_BASE_URL.replace(/\/+$/, '');
    for (const client of parseWebClients(config.WEB_FHIR_CLIENTS)) {
      this.clients.set(`${client.role}:${client.organizationId}`, {
        client,
        tokens: new SmartBackendTokenSource({
          tokenUrl: `${this.baseUrl}/auth/token`,
          clientId: client.clientId,
          privateJwk: client.privateJwk,
          alg: client.privateJwk.kty === 'RSA' ? 'RS384' : 'ES384',
          scope: SCOPES[client.role],
        }),
      });
    }
  }

  hasClientFor(organizationId: string, role: 'cbo' | 'coordinator'): boolean {
    return this.clients.has(`${role}:${organizationId}`);
  }

  /** A bearer token of the person's organization (also for the analytics API). */
  async tokenFor(user: SessionUser): Promise<string> {
    return this.sourceFor(user).token();
  }

  private sourceFor(user: SessionUser): SmartBackendTokenSource {
    const entry = this.clients.get(`${fhirRoleOf(user.role)}:${user.organizationId}`);
    if (!entry)
      throw new ServiceUnavailableException('Your organization is not connected to CareRelay yet');
    return entry.tokens;
  }

  async request<T = Resource>(
    user: SessionUser,
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const tokens = this.sourceFor(user);
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(`${this.baseUrl}/${path}`, {
        method,
        redirect: 'error',
        headers: {
          accept: 'application/fhir+json',
          authorization: `Bearer ${await tokens.token()}`,
          [ON_BEHALF_OF_HEADER]: user.username,
          ...(options.body !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
          ...(options.headers ?? {}),
        },
        body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
        signal: AbortSignal.timeout(15_000),
      });
      if (response.status === 401 && attempt === 1) {
        tokens.invalidate();
        continue;
      }
      const body = (await response.json().catch(() => undefined)) as Resource | undefined;
      if (!response.ok) {
        const issues = (body?.issue as Array<{ diagnostics?: string; code?: string }>) ?? [];
        throw new FhirCallError(
          response.status,
          issues
            .map((i) => i.diagnostics ?? i.code)
            .filter(Boolean)
            .join('; '),
        );
      }
      return body as T;
    }
  }
}
