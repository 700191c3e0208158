import {
  BadGatewayException,
  BadRequestException,
  Body,
  Controller,
  Get,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common';
import { Roles } from '@carerelay/auth';
import { EhrClients } from '../fhir/fhir-clients';
import { CredentialsUnavailable } from '../registry/credentials-cipher';
import { EhrEndpointValidationError } from '../registry/ehr-endpoint.input';
import { EhrEndpointRegistry } from '../registry/ehr-endpoint.registry';
import {
  EhrSubscriptionRepository,
  type EhrSubscriptionState,
} from './ehr-subscription.repository';
import {
  parseSubscriptionSetup,
  setUpSubscription,
  SubscriptionNotCreated,
  type SubscriptionSetupResult,
} from './subscription-setup';

/**
 * The Subscription CareRelay holds on an EHR (the CLI's `ehr:subscribe` does the same): set up
 * (a new secret each time) and its progress. The platform and operators only, as the registry.
 */
@Roles('platform', 'admin')
@Controller('ehr-endpoints')
export class EhrSubscriptionsController {
  constructor(
    private readonly registry: EhrEndpointRegistry,
    private readonly subscriptions: EhrSubscriptionRepository,
    private readonly ehrClients: EhrClients,
  ) {}

  /** `{publicUrl, content?, heartbeatSeconds?, create?}` → the Subscription (with its secret). */
  @Post(':id/subscription')
  async setUp(@Param('id') id: string, @Body() body: unknown): Promise<SubscriptionSetupResult> {
    let input;
    try {
      input = parseSubscriptionSetup(body);
    } catch (error) {
      if (error instanceof EhrEndpointValidationError)
        throw new BadRequestException({ message: error.problems });
      throw error;
    }
    const endpoint = await this.registry.get(id);
    if (!endpoint) throw new NotFoundException(`no EHR endpoint ${id}`);
    try {
      return await setUpSubscription(endpoint, input, this.subscriptions, () =>
        this.ehrClients.for(endpoint),
      );
    } catch (error) {
      if (error instanceof CredentialsUnavailable)
        throw new BadRequestException({
          message: ['a subscription secret needs EHR_CREDENTIALS_KEY set on the ehr-connector'],
        });
      if (error instanceof SubscriptionNotCreated) throw new BadGatewayException(error.message);
      throw error;
    }
  }

  @Get(':id/subscription')
  async get(@Param('id') id: string): Promise<EhrSubscriptionState> {
    const state = await this.subscriptions.get(id);
    if (!state) throw new NotFoundException(`no subscription for EHR endpoint ${id}`);
    return state;
  }
}
