import type { ClientConfig } from 'fhir-kit-client';
import { FhirKitClient, newFhirKitClient } from './fhir-kit.loader';
import { SmartBackendTokenSource } from './smart-backend-token';

/** Any FHIR resource, loosely typed: services read the few elements they need. */
export type Resource = {
  resourceType: string;
  id?: string;
  meta?: { versionId?: string };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
};
export interface Bundle extends Resource {
  entry?: Array<{ fullUrl?: string; resource?: Resource; search?: { mode?: string } }>;
  total?: number;
}

export class FhirRequestError extends Error {
  override name = 'FhirRequestError';
  constructor(
    readonly status: number,
    readonly outcome: unknown,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The FHIR server unreachable, overloaded, timing out or failing (network error, 408, 429, 5xx):
 * a consumer waits for it rather than dead-letter the event. Other answers are about the request.
 */
export const isTransientFhirError = (error: unknown): boolean =>
  error instanceof FhirRequestError &&
  (error.status === 0 || error.status === 408 || error.status === 429 || error.status >= 500);

const statusOf = (error: unknown): number | undefined =>
  (error as { response?: { status?: number } })?.response?.status;

function wrap(error: unknown, what: string): FhirRequestError {
  const status = statusOf(error);
  if (status === undefined)
    return new FhirRequestError(0, undefined, `${what}: ${(error as Error).message}`);
  const data = (error as { response: { data?: unknown } }).response.data;
  const issue = (data as { issue?: Array<{ diagnostics?: string }> })?.issue?.[0]?.diagnostics;
  return new FhirRequestError(status, data, `${what}: HTTP ${status}${issue ? ` ${issue}` : ''}`);
}

/**
 * fhir-kit-client with SMART Backend Services tokens, for CareRelay's services (and tests)
 * talking to a FHIR server: reads, searches, conditional creates and If-Match updates.
 */
export class FhirApiClient {
  private readonly client: FhirKitClient;

  constructor(
    readonly baseUrl: string,
    private readonly tokens?: SmartBackendTokenSource,
    config: Omit<ClientConfig, 'baseUrl'> = {},
  ) {
    this.client = newFhirKitClient({ baseUrl, ...config });
  }

  /** The underlying fhir-kit-client, with a fresh token set. */
  async raw(): Promise<FhirKitClient> {
    if (this.tokens) this.client.bearerToken = await this.tokens.token();
    return this.client;
  }

  private async call<T>(what: string, fn: (client: FhirKitClient) => Promise<unknown>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await fn(await this.raw())) as T;
      } catch (error) {
        if (statusOf(error) === 401 && this.tokens && attempt === 1) {
          this.tokens.invalidate();
          continue;
        }
        throw wrap(error, what);
      }
    }
  }

  read<T extends Resource = Resource>(resourceType: string, id: string): Promise<T> {
    return this.call(`read ${resourceType}/${id}`, (c) => c.read({ resourceType, id }));
  }

  search(
    resourceType: string,
    searchParams: Record<string, string | number | string[]>,
  ): Promise<Bundle> {
    return this.call(`search ${resourceType}`, (c) =>
      c.search({ resourceType, searchParams: searchParams as Record<string, string> }),
    );
  }

  /** Conditional create: a retry finds the resource the first call made instead of a second one. */
  createIfNoneExist<T extends Resource>(resource: T, ifNoneExist: string): Promise<T> {
    return this.call(`create ${resource.resourceType}`, (c) =>
      c.create({
        resourceType: resource.resourceType,
        body: resource,
        options: { headers: { 'If-None-Exist': ifNoneExist } },
      }),
    );
  }

  create<T extends Resource>(resource: T): Promise<T> {
    return this.call(`create ${resource.resourceType}`, (c) =>
      c.create({ resourceType: resource.resourceType, body: resource }),
    );
  }

  transaction(bundle: Resource): Promise<Bundle> {
    return this.call('transaction', (c) => c.transaction({ body: bundle }));
  }

  /**
   * Read-modify-write with If-Match: `change` gets the current version and returns the next one
   * (or undefined when nothing needs changing); a concurrent writer's 412 makes it try again.
   * `known` is a version the caller already holds (its own last write): the first try starts from
   * it without a read; if it turns out stale (412), or says nothing needs changing, the server's
   * current version is read and the change decided again from that.
   */
  async updateWithIfMatch<T extends Resource>(
    resourceType: string,
    id: string,
    change: (current: T) => T | undefined,
    options: { maxAttempts?: number; known?: T } = {},
  ): Promise<T> {
    const maxAttempts = options.maxAttempts ?? 5;
    let known = options.known?.meta?.versionId ? options.known : undefined;
    for (let attempt = 1; ; attempt++) {
      const current = known ?? (await this.read<T>(resourceType, id));
      const unverified = known !== undefined;
      known = undefined;
      const next = change(structuredClone(current));
      if (!next) {
        // "Nothing to change" is only trusted of the server's own current version.
        if (unverified) {
          attempt--;
          continue;
        }
        return current;
      }
      try {
        return await this.call(`update ${resourceType}/${id}`, (c) =>
          c.update({
            resourceType,
            id,
            body: next,
            options: { headers: { 'If-Match': `W/"${current.meta?.versionId ?? ''}"` } },
          }),
        );
      } catch (error) {
        if ((error as FhirRequestError).status !== 412) throw error;
        // A stale copy of the caller's is not a concurrent writer: it does not use up a try.
        if (unverified) attempt--;
        else if (attempt >= maxAttempts) throw error;
      }
    }
  }
}
