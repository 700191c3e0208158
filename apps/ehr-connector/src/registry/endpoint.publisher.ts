import { createHash } from 'node:crypto';
import type { FhirApiClient, Resource } from '@carerelay/fhir-client';
import { PollingLoop } from '@carerelay/messaging';
import { failureOf } from '../fhir/failure';
import type { EhrEndpoint, EhrEndpointRegistry } from './ehr-endpoint.registry';

/** The identifier system of the Endpoint resources the connector publishes (value: endpoint id). */
export const EHR_ENDPOINT_IDENTIFIER_SYSTEM =
  'https://carerelay.example/fhir/NamingSystem/ehr-endpoint';

/**
 * What the FHIR API is told of a registered EHR endpoint: an R4 Endpoint (FHIR REST, its base URL,
 * the organization it serves, active while enabled) — never its credentials. The FHIR API accepts a
 * referral Task naming resources on that base only from that organization.
 */
export function endpointResourceOf(endpoint: EhrEndpoint): Resource {
  return {
    resourceType: 'Endpoint',
    identifier: [{ system: EHR_ENDPOINT_IDENTIFIER_SYSTEM, value: endpoint.id }],
    status: endpoint.enabled ? 'active' : 'off',
    connectionType: {
      system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type',
      code: 'hl7-fhir-rest',
    },
    name: `EHR FHIR server of Organization/${endpoint.organizationId}`,
    managingOrganization: { reference: `Organization/${endpoint.organizationId}` },
    payloadType: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/endpoint-payload-type', code: 'any' },
        ],
      },
    ],
    payloadMimeType: ['application/fhir+json'],
    address: endpoint.baseUrl,
  };
}

const digestOf = (resource: Resource): string =>
  createHash('sha256').update(JSON.stringify(resource)).digest('hex');

export interface EndpointPublisherOptions {
  intervalMs: number;
  logger?: Pick<Console, 'warn' | 'log'>;
}

/**
 * Keeps one Endpoint resource per registered EHR endpoint in CareRelay's FHIR API (conditional
 * update on its identifier), whoever registered it: the HTTP API, or the CLI writing the registry
 * directly while the connector runs. What was published is kept as a digest, so only a change is
 * written again; a failure is tried again on the next tick.
 */
export class EndpointPublisher {
  private readonly loop: PollingLoop;

  constructor(
    private readonly registry: EhrEndpointRegistry,
    private readonly carerelay: FhirApiClient,
    private readonly options: EndpointPublisherOptions,
  ) {
    this.loop = new PollingLoop({
      intervalMs: options.intervalMs,
      tick: () => this.tick(),
      onError: (error) => options.logger?.warn(`ehr endpoints: ${failureOf(error)}`),
    });
  }

  start(): Promise<void> {
    return this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Publishes now (after a registration through the API), besides the regular ticks. */
  wake(): void {
    this.loop.wake();
  }

  async tick(): Promise<void> {
    for (const endpoint of await this.registry.publicationStates()) {
      const resource = endpointResourceOf(endpoint);
      const digest = digestOf(resource);
      if (endpoint.publishedDigest === digest) continue;
      try {
        await this.carerelay.transaction({
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            {
              resource,
              request: {
                method: 'PUT',
                url: `Endpoint?identifier=${encodeURIComponent(`${EHR_ENDPOINT_IDENTIFIER_SYSTEM}|${endpoint.id}`)}`,
              },
            },
          ],
        });
        await this.registry.markPublished(endpoint.id, digest);
        this.options.logger?.log(`ehr endpoints: ${endpoint.id} published as an Endpoint`);
      } catch (error) {
        this.options.logger?.warn(
          `ehr endpoints: ${endpoint.id} not published: ${failureOf(error)}`,
        );
      }
    }
  }
}
