import {
  Controller,
  Delete,
  Get,
  Inject,
  Optional,
  Patch,
  Post,
  Put,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import type { CapabilityStatement, Resource } from '@medplum/fhirtypes';
import {
  informational,
  methodNotAllowed,
  parseSubsetting,
  subsetResource,
  type Subsetting,
} from '@carerelay/fhir';
import { actorOf, type RequestWithActor } from '../request-actor';
import { AuditService } from '../audit/audit.service';
import { AuditedStore } from '../interactions/audited';
import { BundleProcessor } from '../interactions/bundle.processor';
import { etagOf, parseIfMatch } from '../interactions/etag';
import { FhirInteractions } from '../interactions/fhir.interactions';
import type { InteractionResult } from '../interactions/interaction.results';
import { ResourceStore } from '../store/resource.store';
import { sendFhir } from './fhir-response';

export const CAPABILITY_STATEMENT = Symbol('CAPABILITY_STATEMENT');

type FhirRequest = RequestWithActor & { body?: unknown };

const header = (req: Request, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

function queryOf(req: Request): URLSearchParams {
  const q = req.originalUrl.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : req.originalUrl.slice(q + 1));
}

/** The criteria of a conditional update or delete: its query, which must not be empty. */
function criteriaOf(req: Request): string {
  const q = req.originalUrl.indexOf('?');
  const criteria = q === -1 ? '' : req.originalUrl.slice(q + 1);
  if (criteria === '')
    throw methodNotAllowed(
      `${req.method} needs a resource id (Type/id) or search criteria (Type?criteria)`,
    );
  return criteria;
}

/** The answer of a read or search as `_summary` / `_elements` ask: each match subsetted. */
function subsetted(result: InteractionResult, subsetting: Subsetting): InteractionResult {
  if (!subsetting.summary && !subsetting.elements) return result;
  const body = result.body as Resource | undefined;
  if (!body) return result;
  if (body.resourceType !== 'Bundle') return { ...result, body: subsetResource(body, subsetting) };
  return {
    ...result,
    body: {
      ...body,
      entry: body.entry?.map((entry) =>
        entry.resource && entry.search?.mode !== 'include'
          ? { ...entry, resource: subsetResource(entry.resource, subsetting) }
          : entry,
      ),
    },
  };
}

/** If-Modified-Since (an HTTP date, whole seconds) that the stored version is not newer than. */
function notModifiedSince(req: Request, lastUpdated: string): boolean {
  const since = Date.parse(header(req, 'if-modified-since') ?? '');
  return Number.isFinite(since) && Math.floor(Date.parse(lastUpdated) / 1000) * 1000 <= since;
}

function handlingOf(req: Request): 'strict' | 'lenient' {
  return /handling\s*=\s*lenient/i.test(header(req, 'prefer') ?? '') ? 'lenient' : 'strict';
}

/** The FHIR R4 REST API: one route per interaction, every answer FHIR JSON. */
@Controller('fhir')
export class FhirController {
  private readonly audited: AuditedStore;

  constructor(
    store: ResourceStore,
    private readonly interactions: FhirInteractions,
    private readonly bundles: BundleProcessor,
    @Inject(CAPABILITY_STATEMENT) private readonly capability: () => CapabilityStatement,
    @Optional() @Inject(AuditService) audit?: AuditService,
  ) {
    this.audited = new AuditedStore(store, audit);
  }

  private send(req: Request, res: Response, result: InteractionResult): void {
    const headers: Record<string, string> = {};
    if (result.stored) {
      headers.ETag = etagOf(result.stored.versionId);
      headers['Last-Modified'] = new Date(result.stored.lastUpdated).toUTCString();
    }
    if (
      result.location &&
      (result.status === 201 || result.status === 200) &&
      req.method !== 'GET'
    ) {
      headers.Location = result.location;
      if (result.status === 201) headers['Content-Location'] = result.location;
    }
    const prefer = header(req, 'prefer') ?? '';
    if (req.method !== 'GET' && /return\s*=\s*minimal/i.test(prefer)) {
      sendFhir(res, result.status, undefined, headers);
      return;
    }
    if (req.method !== 'GET' && /return\s*=\s*OperationOutcome/i.test(prefer)) {
      sendFhir(res, result.status, informational(`${req.method} succeeded`), headers);
      return;
    }
    sendFhir(res, result.status, result.body, headers);
  }

  @Get('metadata')
  metadata(@Res() res: Response): void {
    sendFhir(res, 200, this.capability());
  }

  @Post()
  async bundle(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const actor = actorOf(req);
    const bundle = await this.bundles.process(actor, req.body);
    sendFhir(res, 200, bundle);
  }

  @Get(':type/_history')
  async typeHistory(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const { type } = req.params as Record<string, string>;
    const query = queryOf(req);
    const result = await this.audited.read(
      actorOf(req),
      { subtype: 'history-type', resourceType: type, query: query.toString() },
      (tx) => this.interactions.history(tx, type, undefined, query),
    );
    this.send(req, res, result);
  }

  @Post(':type/_search')
  async postSearch(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const { type } = req.params as Record<string, string>;
    const query = queryOf(req);
    if (req.body instanceof URLSearchParams)
      for (const [k, v] of req.body.entries()) query.append(k, v);
    const subsetting = parseSubsetting(query);
    const result = await this.audited.read(
      actorOf(req),
      { subtype: 'search-type', resourceType: type, query: query.toString() },
      (tx) => this.interactions.search(tx, type, query, handlingOf(req)),
    );
    sendFhir(res, 200, subsetted(result, subsetting).body);
  }

  @Get(':type/:id/_history/:vid')
  async vread(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const { type, id, vid } = req.params as Record<string, string>;
    const subsetting = parseSubsetting(queryOf(req));
    const result = await this.audited.read(
      actorOf(req),
      { subtype: 'vread', resourceType: type, ids: [`${type}/${id}/_history/${vid}`] },
      (tx) => this.interactions.vread(tx, type, id, vid),
    );
    this.send(req, res, subsetted(result, subsetting));
  }

  @Get(':type/:id/_history')
  async instanceHistory(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const { type, id } = req.params as Record<string, string>;
    const result = await this.audited.read(
      actorOf(req),
      { subtype: 'history-instance', resourceType: type, ids: [`${type}/${id}`] },
      (tx) => this.interactions.history(tx, type, id, queryOf(req)),
    );
    this.send(req, res, result);
  }

  @Get(':type')
  async search(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const { type } = req.params as Record<string, string>;
    const query = queryOf(req);
    const subsetting = parseSubsetting(query);
    const result = await this.audited.read(
      actorOf(req),
      { subtype: 'search-type', resourceType: type, query: query.toString() },
      (tx) => this.interactions.search(tx, type, query, handlingOf(req)),
    );
    this.send(req, res, subsetted(result, subsetting));
  }

  @Post(':type')
  async create(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const { type } = req.params as Record<string, string>;
    const ifNoneExist = header(req, 'if-none-exist');
    const result = await this.audited.write(
      actorOf(req),
      { subtype: 'create', resourceType: type },
      (tx) => this.interactions.create(tx, type, req.body, { ifNoneExist }),
    );
    this.send(req, res, result);
  }

  /** Conditional update: `PUT Type?criteria` (a PUT to the type with no query is refused). */
  @Put(':type')
  async conditionalUpdate(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const { type } = req.params as Record<string, string>;
    const criteria = criteriaOf(req);
    const ifMatch = parseIfMatch(header(req, 'if-match'));
    const result = await this.audited.write(
      actorOf(req),
      { subtype: 'update', resourceType: type, query: criteria },
      (tx) => this.interactions.conditionalUpdate(tx, type, criteria, req.body, { ifMatch }),
    );
    this.send(req, res, result);
  }

  /** Conditional delete: `DELETE Type?criteria`, one resource at a time. */
  @Delete(':type')
  async conditionalDelete(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const { type } = req.params as Record<string, string>;
    const criteria = criteriaOf(req);
    const result = await this.audited.write(
      actorOf(req),
      { subtype: 'delete', resourceType: type, query: criteria },
      (tx) => this.interactions.conditionalDelete(tx, type, criteria),
    );
    const deleted = result.stored;
    sendFhir(
      res,
      200,
      informational(
        deleted
          ? `${type}/${deleted.id} deleted`
          : `No ${type} matched the criteria: nothing deleted`,
      ),
      deleted ? { ETag: etagOf(deleted.versionId) } : {},
    );
  }

  @Get(':type/:id')
  async read(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const { type, id } = req.params as Record<string, string>;
    const subsetting = parseSubsetting(queryOf(req));
    const result = await this.audited.read(
      actorOf(req),
      { subtype: 'read', resourceType: type, ids: [`${type}/${id}`] },
      (tx) => this.interactions.read(tx, type, id),
    );
    const etag = result.stored ? etagOf(result.stored.versionId) : undefined;
    // If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 13.2.2).
    const ifNoneMatch = header(req, 'if-none-match');
    if (
      etag &&
      (ifNoneMatch !== undefined
        ? ifNoneMatch === etag
        : notModifiedSince(req, result.stored!.lastUpdated))
    ) {
      sendFhir(res, 304, undefined, { ETag: etag });
      return;
    }
    this.send(req, res, subsetted(result, subsetting));
  }

  @Put(':type/:id')
  async update(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const { type, id } = req.params as Record<string, string>;
    const ifMatch = parseIfMatch(header(req, 'if-match'));
    const result = await this.audited.write(
      actorOf(req),
      { subtype: 'update', resourceType: type, ids: [`${type}/${id}`] },
      (tx) => this.interactions.update(tx, type, id, req.body, { ifMatch }),
    );
    this.send(req, res, result);
  }

  @Patch(':type/:id')
  async patch(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const { type, id } = req.params as Record<string, string>;
    const ifMatch = parseIfMatch(header(req, 'if-match'));
    const result = await this.audited.write(
      actorOf(req),
      { subtype: 'patch', resourceType: type, ids: [`${type}/${id}`] },
      (tx) => this.interactions.patch(tx, type, id, req.body, { ifMatch }),
    );
    this.send(req, res, result);
  }

  @Delete(':type/:id')
  async remove(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const { type, id } = req.params as Record<string, string>;
    const result = await this.audited.write(
      actorOf(req),
      { subtype: 'delete', resourceType: type, ids: [`${type}/${id}`] },
      (tx) => this.interactions.delete(tx, type, id),
    );
    sendFhir(
      res,
      200,
      informational(`${type}/${id} deleted`),
      result.stored ? { ETag: etagOf(result.stored.versionId) } : {},
    );
  }
}
