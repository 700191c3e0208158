import { Controller, Delete, Get, Inject, Post, Req, Res } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import { forbidden, notFound } from '@carerelay/fhir';
import { actorMay, assertScope } from '../auth/assert-scope';
import { sendFhir } from '../http/fhir-response';
import { actorOf, type RequestActor, type RequestWithActor } from '../request-actor';
import {
  parseSubscription,
  statusParameters,
  subscriptionResource,
  type StoredSubscription,
} from './backport';
import { checkEndpoint, type EndpointPolicy } from './endpoint-policy';
import { SubscriptionEngine } from './subscription.engine';
import { SubscriptionStore } from './subscription.store';

export const SUBSCRIPTIONS_BASE_URL = Symbol('SUBSCRIPTIONS_BASE_URL');
export const SUBSCRIPTION_ENDPOINTS = Symbol('SUBSCRIPTION_ENDPOINTS');

type FhirRequest = RequestWithActor & { body?: unknown };

/** Subscription (R5 Backport on R4): create (with handshake), read, delete (off), `$status`. */
@Controller('fhir/Subscription')
export class SubscriptionsController {
  constructor(
    private readonly store: SubscriptionStore,
    private readonly engine: SubscriptionEngine,
    @Inject(SUBSCRIPTIONS_BASE_URL) private readonly baseUrl: () => string,
    @Inject(SUBSCRIPTION_ENDPOINTS) private readonly endpoints: EndpointPolicy,
  ) {}

  private async owned(actor: RequestActor, id: string): Promise<StoredSubscription> {
    const sub = await this.store.get(id);
    if (!sub || sub.status === 'off') throw notFound(`Subscription/${id} not found`);
    if (actor.role !== 'coordinator' && sub.ownerOrg !== actor.organizationId)
      throw notFound(`Subscription/${id} not found`);
    return sub;
  }

  @Post()
  async create(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    const actor = actorOf(req);
    // The token's scopes and the role's policy (auth/scopes.ts): creating a Subscription needs
    // Subscription create (not a coordinator's: read-only) and searching Tasks, the topic's
    // resources; a full-resource payload needs reading them too.
    assertScope(actor, 'Subscription', 'create');
    if (!actorMay(actor, 'Task', 'search'))
      throw forbidden('a Subscription to the Task topic needs the scope system/Task.s');
    const request = parseSubscription(req.body);
    if (request.payload === 'full-resource' && !actorMay(actor, 'Task', 'read'))
      throw forbidden(
        'a full-resource Subscription to the Task topic needs the scope system/Task.r',
      );
    await checkEndpoint(request.endpoint, this.endpoints);
    const id = randomUUID();
    let sub = await this.store.create(id, actor, request, req.body as never);
    try {
      await this.engine.send({ ...sub, status: 'requested' }, 'handshake');
      await this.store.setStatus(id, 'active');
    } catch {
      // Nothing of the remote side's answer: the subscriber must not learn more than "failed".
      await this.store.setStatus(id, 'error', 'handshake failed');
    }
    sub = { ...((await this.store.get(id)) as StoredSubscription), reason: request.reason };
    const location = `${this.baseUrl()}/Subscription/${id}`;
    sendFhir(res, 201, subscriptionResource(sub), { Location: location });
  }

  @Get(':id/\\$status')
  async status(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    assertScope(actorOf(req), 'Subscription', 'read');
    const sub = await this.owned(actorOf(req), (req.params as Record<string, string>).id);
    sendFhir(res, 200, {
      resourceType: 'Bundle',
      type: 'searchset',
      total: 1,
      entry: [
        {
          fullUrl: `urn:uuid:${randomUUID()}`,
          resource: statusParameters(this.baseUrl(), sub, 'query-status'),
          search: { mode: 'match' },
        },
      ],
    });
  }

  @Get(':id')
  async read(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    assertScope(actorOf(req), 'Subscription', 'read');
    const sub = await this.owned(actorOf(req), (req.params as Record<string, string>).id);
    sendFhir(res, 200, subscriptionResource(sub));
  }

  @Delete(':id')
  async remove(@Req() req: FhirRequest, @Res() res: Response): Promise<void> {
    assertScope(actorOf(req), 'Subscription', 'delete');
    const sub = await this.owned(actorOf(req), (req.params as Record<string, string>).id);
    await this.store.setStatus(sub.id, 'off');
    res.status(204).end();
  }
}
