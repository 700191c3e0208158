import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Optional,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Res,
  UsePipes,
} from '@nestjs/common';
import type { Response } from 'express';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { checkId, consumeOrRefuse, strictValidation } from '@carerelay/http';
import { Roles, type Caller } from '@carerelay/auth';
import {
  directoryToHsds,
  haversineKm,
  normalizeLanguageTag,
  normalizePostalCode,
  primaryLanguage,
  sampleZipCentroids,
  type GeoPoint,
  type Location,
  type Organization,
  type Service,
} from '@carerelay/directory';
import { DirectoryService } from '../directory/directory.service';
import { DirectoryStore } from '../directory/directory.store';
import { HsdsImportService, HsdsImportSummary } from '../directory/hsds-import.service';
import {
  CapacityDto,
  LocationDto,
  LocationQueryDto,
  OrganizationDto,
  OrganizationQueryDto,
  ServiceDto,
  ServiceQueryDto,
} from './directory.dto';
import { REPUBLISH_LIMITER } from './republish-limiter';

const created = (response: Response, outcome: string) =>
  response.status(outcome === 'created' ? 201 : 200);

/** Reads: every client of the network (the directory holds no PHI; it is on the FHIR API too). */
const DIRECTORY_READERS: Caller[] = ['platform', 'admin', 'coordinator', 'ehr', 'cbo'];

/**
 * The coordinators' HTTP API: organizations, locations, services, HSDS import and export.
 * Writes, imports and republishing: the platform and operators only.
 */
@Roles('platform', 'admin')
@Controller()
@UsePipes(strictValidation())
export class DirectoryController {
  private readonly zipCentroids: ReadonlyMap<string, GeoPoint> = sampleZipCentroids();

  constructor(
    private readonly directory: DirectoryService,
    private readonly store: DirectoryStore,
    private readonly hsds: HsdsImportService,
    @Optional()
    @Inject(REPUBLISH_LIMITER)
    private readonly republishes?: RateLimiterMemory,
  ) {}

  // Organizations ----------------------------------------------------------------------------

  @Roles(...DIRECTORY_READERS)
  @Get('organizations')
  organizations(@Query() query: OrganizationQueryDto): Promise<Organization[]> {
    return this.store.organizations({
      network: query.network,
      includeRetired: query.includeRetired === 'true',
    });
  }

  @Roles(...DIRECTORY_READERS)
  @Get('organizations/:id')
  async organization(@Param('id') id: string): Promise<Organization> {
    const found = await this.store.organization(checkId('id', id));
    if (!found) throw new NotFoundException(`organization ${id} is not in the directory`);
    return found.record;
  }

  @Post('organizations')
  createOrganization(@Body() body: OrganizationDto): Promise<Organization> {
    return this.directory.createOrganization(body);
  }

  @Put('organizations/:id')
  async putOrganization(
    @Param('id') id: string,
    @Body() body: OrganizationDto,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Organization> {
    const result = await this.directory.putOrganization(checkId('id', id), body);
    created(response, result.outcome);
    return result.record;
  }

  @Delete('organizations/:id')
  deleteOrganization(@Param('id') id: string) {
    return this.directory.deleteOrganization(checkId('id', id));
  }

  // Locations --------------------------------------------------------------------------------

  @Roles(...DIRECTORY_READERS)
  @Get('locations')
  locations(@Query() query: LocationQueryDto): Promise<Location[]> {
    return this.store.locations({
      organizationId: query.organizationId,
      zip: normalizePostalCode(query.zip),
    });
  }

  @Roles(...DIRECTORY_READERS)
  @Get('locations/:id')
  async location(@Param('id') id: string): Promise<Location> {
    const found = await this.store.location(checkId('id', id));
    if (!found) throw new NotFoundException(`location ${id} is not in the directory`);
    return found.record;
  }

  @Post('locations')
  createLocation(@Body() body: LocationDto): Promise<Location> {
    return this.directory.createLocation(body);
  }

  @Put('locations/:id')
  async putLocation(
    @Param('id') id: string,
    @Body() body: LocationDto,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Location> {
    const result = await this.directory.putLocation(checkId('id', id), body);
    created(response, result.outcome);
    return result.record;
  }

  @Delete('locations/:id')
  deleteLocation(@Param('id') id: string): Promise<Location> {
    return this.directory.deleteLocation(checkId('id', id));
  }

  // Services ---------------------------------------------------------------------------------

  /**
   * Services by SDOH category, ZIP (a ZIP list naming it, or a radius around a location covering
   * the ZIP's centroid when it is known) and language (primary subtag; none listed = English).
   */
  @Roles(...DIRECTORY_READERS)
  @Get('services')
  async services(@Query() query: ServiceQueryDto): Promise<Service[]> {
    const zip = normalizePostalCode(query.zip);
    // By primary subtag, as matching does: es-MX finds services whose staff speak es.
    const tag = query.language ? normalizeLanguageTag(query.language) : undefined;
    const language = tag ? primaryLanguage(tag) : undefined;
    const services = await this.store.services({
      category: query.category,
      zip,
      language,
      organizationId: query.organizationId,
      status: query.status,
      capacity: query.capacity,
    });
    if (!zip) return services;
    const centroid = this.zipCentroids.get(zip);
    return services.filter((service) =>
      service.serviceAreas.some((area) =>
        area.kind === 'postal-codes'
          ? area.postalCodes.includes(zip)
          : centroid !== undefined && haversineKm(area.center, centroid) <= area.radiusKm,
      ),
    );
  }

  @Roles(...DIRECTORY_READERS)
  @Get('services/:id')
  async service(@Param('id') id: string): Promise<Service> {
    const found = await this.store.service(checkId('id', id));
    if (!found) throw new NotFoundException(`service ${id} is not in the directory`);
    return found.record;
  }

  @Post('services')
  createService(@Body() body: ServiceDto): Promise<Service> {
    return this.directory.createService(body);
  }

  @Put('services/:id')
  async putService(
    @Param('id') id: string,
    @Body() body: ServiceDto,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Service> {
    const result = await this.directory.putService(checkId('id', id), body);
    created(response, result.outcome);
    return result.record;
  }

  /** available / waitlist / no-capacity (+ counts, notes): announced as directory.capacity-changed. */
  @Patch('services/:id/capacity')
  async changeCapacity(@Param('id') id: string, @Body() body: CapacityDto): Promise<Service> {
    return (await this.directory.changeCapacity(checkId('id', id), body)).record;
  }

  @Delete('services/:id')
  async deleteService(@Param('id') id: string): Promise<Service> {
    return (await this.directory.deleteService(checkId('id', id))).record;
  }

  // HSDS -------------------------------------------------------------------------------------

  /** An HSDS 3.0 JSON document: stored and announced whole, or refused whole (400 with paths). */
  @Post('import/hsds')
  @HttpCode(200)
  importHsds(@Body() body: unknown): Promise<HsdsImportSummary> {
    return this.hsds.import(body);
  }

  @Roles('platform', 'admin', 'coordinator')
  @Get('export/hsds')
  async exportHsds() {
    return directoryToHsds(await this.store.directory());
  }

  // Admin ------------------------------------------------------------------------------------

  /** Re-announces every entry on directory.events.v1, so a new consumer can build its view. */
  @Post('admin/republish')
  @HttpCode(200)
  async republish() {
    if (this.republishes)
      await consumeOrRefuse(
        this.republishes,
        'republish',
        'the directory was republished recently; its events are still being consumed',
      );
    return this.directory.republish();
  }
}
