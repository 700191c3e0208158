import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsUrl,
  Matches,
  Max,
  Min,
  validateSync,
} from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { BACKPORT_EXT, SUBSCRIPTION_PROFILE, TASK_TOPIC } from '@carerelay/fhir';
import type { FhirApiClient, Resource } from '@carerelay/fhir-client';
import { failureOf } from '../fhir/failure';
import { EhrEndpointValidationError } from '../registry/ehr-endpoint.input';
import type { EhrEndpoint } from '../registry/ehr-endpoint.registry';
import type { EhrSubscriptionRepository, PayloadContent } from './ehr-subscription.repository';

/** How an operator asks for a Subscription on an EHR (`POST /ehr-endpoints/:id/subscription`, `ehr:subscribe`). */
export class SubscriptionSetupInput {
  /** The ehr-connector's URL as the EHR reaches it (notifications go to `<it>/ehr-notifications/<endpoint id>`). */
  @IsUrl(
    { require_tld: false, require_protocol: true, protocols: ['http', 'https'] },
    { message: 'publicUrl must be an http(s) URL' },
  )
  @Matches(/^[^?#\s]*$/, { message: 'publicUrl must not carry a query' })
  publicUrl!: string;

  @IsOptional()
  @IsIn(['id-only', 'full-resource'], { message: 'content must be id-only or full-resource' })
  content?: PayloadContent;

  /** Seconds between the EHR's heartbeats (a missed last event shows at the next one). */
  @IsOptional()
  @IsInt()
  @Min(10)
  @Max(86_400)
  heartbeatSeconds?: number;

  /** POST the Subscription to the EHR (with the endpoint's credentials); else only answer it. */
  @IsOptional()
  @IsBoolean()
  create?: boolean;
}

export function parseSubscriptionSetup(raw: unknown): SubscriptionSetupInput {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new EhrEndpointValidationError(['the subscription set-up must be an object']);
  const input = plainToInstance(SubscriptionSetupInput, raw);
  const errors = validateSync(input, { whitelist: true, forbidNonWhitelisted: true });
  const problems = errors.flatMap((e) =>
    Object.values(e.constraints ?? { [e.property]: 'invalid' }),
  );
  if (problems.length > 0) throw new EhrEndpointValidationError(problems);
  return input;
}

export const notificationUrlOf = (publicUrl: string, endpointId: string): string =>
  `${publicUrl.replace(/\/+$/, '')}/ehr-notifications/${endpointId}`;

/**
 * The R4 Backport Subscription the EHR must hold: the SDOH Clinical Care Task topic filtered on
 * Tasks owned by CareRelay, rest-hook to the connector with the endpoint's secret in its header.
 */
export function ehrSubscriptionResource(
  endpoint: EhrEndpoint,
  notificationUrl: string,
  secret: string,
  content: PayloadContent,
  heartbeatSeconds?: number,
): Resource {
  return {
    resourceType: 'Subscription',
    meta: { profile: [SUBSCRIPTION_PROFILE] } as Resource['meta'],
    status: 'requested',
    reason: 'CareRelay: referrals for the Coordination Platform',
    criteria: TASK_TOPIC,
    _criteria: {
      extension: [
        {
          url: BACKPORT_EXT.filterCriteria,
          valueString: `Task?owner=${endpoint.platformOwnerReference}`,
        },
      ],
    },
    channel: {
      type: 'rest-hook',
      endpoint: notificationUrl,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: BACKPORT_EXT.payloadContent, valueCode: content }] },
      header: [`Authorization: Bearer ${secret}`],
      ...(heartbeatSeconds
        ? { extension: [{ url: BACKPORT_EXT.heartbeat, valueUnsignedInt: heartbeatSeconds }] }
        : {}),
    },
  };
}

/** The EHR did not take the Subscription (the secret is set: a retry makes a new one). */
export class SubscriptionNotCreated extends Error {
  override name = 'SubscriptionNotCreated';
  constructor(failure: string) {
    super(`the EHR did not take the Subscription: ${failure}`);
  }
}

export interface SubscriptionSetupResult {
  endpointId: string;
  notificationUrl: string;
  /** The Subscription the EHR holds (created) or must be given (its header carries the secret). */
  subscription: Resource;
  /** The Subscription's id on the EHR when it was created there. */
  ehrSubscriptionId?: string;
}

/**
 * Sets up (again) the subscription of an endpoint: a new secret (the old one stops working),
 * progress from event 0, and the Subscription resource, POSTed to the EHR when asked.
 */
export async function setUpSubscription(
  endpoint: EhrEndpoint,
  input: SubscriptionSetupInput,
  subscriptions: Pick<EhrSubscriptionRepository, 'setUp' | 'recordEhrSubscriptionId'>,
  ehr: () => Promise<FhirApiClient>,
): Promise<SubscriptionSetupResult> {
  const content = input.content ?? 'id-only';
  const secret = await subscriptions.setUp(endpoint.id, content);
  const notificationUrl = notificationUrlOf(input.publicUrl, endpoint.id);
  const subscription = ehrSubscriptionResource(
    endpoint,
    notificationUrl,
    secret,
    content,
    input.heartbeatSeconds,
  );
  if (!input.create) return { endpointId: endpoint.id, notificationUrl, subscription };
  let created: Resource;
  try {
    created = await (await ehr()).create(subscription);
  } catch (error) {
    throw new SubscriptionNotCreated(failureOf(error));
  }
  const id = created.id as string;
  await subscriptions.recordEhrSubscriptionId(endpoint.id, id);
  return { endpointId: endpoint.id, notificationUrl, subscription: created, ehrSubscriptionId: id };
}
