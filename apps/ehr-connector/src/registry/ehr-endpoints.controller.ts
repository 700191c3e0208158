import { EndpointPublisher } from './endpoint.publisher';
import {
  BadRequestException,
  Body,
  ConflictException,
  Inject,
  Controller,
  Get,
  NotFoundException,
  Param,
  Put,
} from '@nestjs/common';
import { CredentialsUnavailable } from './credentials-cipher';
import {
  EhrEndpointValidationError,
  parseEhrEndpointInput,
  type EhrEndpointRules,
} from './ehr-endpoint.input';
import { EhrEndpointRegistry, type EhrEndpoint } from './ehr-endpoint.registry';
import { Roles } from '@carerelay/auth';

/** The rules a registration is checked against (allowed token URL origins). */
export const EHR_ENDPOINT_RULES = Symbol('EHR_ENDPOINT_RULES');

/**
 * The endpoint registry over HTTP (the CLI's `ehr:add` / `ehr:list` do the same). Registering an
 * EHR decides whose referrals CareRelay accepts from where: the platform and operators only.
 */
@Roles('platform', 'admin')
@Controller('ehr-endpoints')
export class EhrEndpointsController {
  constructor(
    private readonly registry: EhrEndpointRegistry,
    @Inject(EHR_ENDPOINT_RULES) private readonly rules: EhrEndpointRules,
    private readonly publisher: EndpointPublisher,
  ) {}

  @Get()
  list(): Promise<EhrEndpoint[]> {
    return this.registry.list();
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<EhrEndpoint> {
    const endpoint = await this.registry.get(id);
    if (!endpoint) throw new NotFoundException(`no EHR endpoint ${id}`);
    return endpoint;
  }

  /** Adds or replaces the endpoint `id` (the body's id must match or be absent). */
  @Put(':id')
  async put(@Param('id') id: string, @Body() body: unknown): Promise<EhrEndpoint> {
    try {
      const raw = { ...(body as object), id };
      const endpoint = await this.registry.upsert(parseEhrEndpointInput(raw, this.rules));
      // Its Endpoint resource in the FHIR API (what a Task naming the EHR is checked against).
      this.publisher.wake();
      return endpoint;
    } catch (error) {
      if (error instanceof EhrEndpointValidationError)
        throw new BadRequestException({ message: error.problems });
      if (error instanceof CredentialsUnavailable)
        throw new BadRequestException({
          message: ['smart-backend needs EHR_CREDENTIALS_KEY set on the ehr-connector'],
        });
      // ehr_endpoints.base_url is unique.
      if ((error as { code?: string }).code === '23505')
        throw new ConflictException('this baseUrl is already registered for another endpoint');
      throw error;
    }
  }
}
