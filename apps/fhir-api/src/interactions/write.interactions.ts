import type { Resource } from '@medplum/fhirtypes';
import {
  applyFhirPathPatch,
  applyJsonPatch,
  badRequest,
  gone,
  methodNotAllowed,
  notFound,
  preconditionFailed,
} from '@carerelay/fhir';
import type { StoreTransaction } from '../store/store.transaction';
import { conditionalUpdateTarget, resolveConditional, singleMatch } from './conditional';
import { etagOf } from './etag';
import { found, type InteractionResult, view } from './interaction.results';
import { assertId, authorize } from './interaction.rules';
import {
  checkCreationRules,
  checkTenant,
  checkUpdate,
  resourceBody,
  unredact,
  validateResource,
} from './write.checks';

/** create (plain or conditional), update (or create-by-update), patch and delete. */
export class WriteInteractions {
  constructor(private readonly baseUrl: () => string) {}

  private get base(): string {
    return this.baseUrl();
  }

  async create(
    tx: StoreTransaction,
    resourceType: string,
    body: unknown,
    options: { ifNoneExist?: string; id?: string; validated?: Resource } = {},
  ): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'create');
    const input = options.validated ?? resourceBody(body, resourceType);
    const id = options.id ?? tx.newId();
    const { id: _clientId, ...fields } = input;
    const resource =
      options.validated ?? validateResource({ ...fields, id }, resourceType, tx.actor);
    checkCreationRules(tx.actor, resource);
    await checkTenant(tx, resource, undefined);
    if (options.ifNoneExist !== undefined) {
      const existing = await resolveConditional(tx, resourceType, options.ifNoneExist, id);
      if (existing) return found(this.base, await view(tx, existing), 200);
    }
    const stored = await tx.write({ ...resource, id } as Resource, 'POST', undefined);
    return found(this.base, await view(tx, stored), 201);
  }

  async update(
    tx: StoreTransaction,
    resourceType: string,
    id: string,
    body: unknown,
    options: { ifMatch?: number } = {},
  ): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'update');
    assertId(id);
    const input = resourceBody(body, resourceType);
    if (input.id === undefined)
      throw badRequest(
        'The resource must have an id equal to the one in the URL',
        `${resourceType}.id`,
        'required',
      );
    if (input.id !== id)
      throw badRequest(
        `The resource id "${String(input.id).slice(0, 64)}" differs from the URL id "${id}"`,
        `${resourceType}.id`,
        'value',
      );
    const resource = validateResource(await unredact(tx, input), resourceType, tx.actor);
    let existing = await tx.current(resourceType, id, { forUpdate: true });
    if (!existing && (await tx.exists(resourceType, id))) {
      // Either another tenant's (404), or made by a concurrent create-by-update that committed
      // after the read above: a new read sees it, and this request updates it.
      existing = await tx.current(resourceType, id, { forUpdate: true });
      if (!existing) throw notFound(`${resourceType}/${id} is not known`);
    }
    if (!existing) {
      if (options.ifMatch !== undefined)
        throw preconditionFailed(
          `${resourceType}/${id} does not exist (If-Match ${etagOf(options.ifMatch)})`,
        );
      // Create-by-update is a create: the token and the role must allow creating this type.
      authorize(tx.actor, resourceType, 'create');
      checkCreationRules(tx.actor, resource);
      await checkTenant(tx, resource, undefined);
      return found(this.base, await view(tx, await tx.write(resource, 'PUT', undefined)), 201);
    }
    if (existing.deleted) {
      authorize(tx.actor, resourceType, 'create');
      checkCreationRules(tx.actor, resource);
      await checkTenant(tx, resource, undefined);
      return found(this.base, await view(tx, await tx.write(resource, 'PUT', existing)), 201);
    }
    await checkTenant(tx, resource, existing);
    checkUpdate(tx.actor, existing, resource, options.ifMatch, tx.localBaseUrls);
    const stored = await tx.write(resource, 'PUT', existing);
    return found(this.base, await view(tx, stored), 200);
  }

  /**
   * Conditional update (`PUT Type?criteria`, R4 3.1.0.4.3). One visible match: it is updated (a
   * body id must be that resource's). No match: created, under the body's id if it has one (as
   * create-by-update), else a new one; concurrent twins are serialized on the criteria as
   * conditional creates are, so only one of them creates. Several matches: 412.
   */
  async conditionalUpdate(
    tx: StoreTransaction,
    resourceType: string,
    criteria: string,
    body: unknown,
    options: { ifMatch?: number } = {},
  ): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'update');
    const input = resourceBody(body, resourceType);
    if (input.id !== undefined) assertId(String(input.id));
    const target = await conditionalUpdateTarget(
      tx,
      resourceType,
      criteria,
      input,
      options.ifMatch,
    );
    // A match, or a body id (create-by-update): the plain update of that id.
    if (target.matched || input.id !== undefined)
      return this.update(tx, resourceType, target.id, { ...input, id: target.id }, options);
    return this.create(tx, resourceType, input, { id: target.id });
  }

  /**
   * Conditional delete (`DELETE Type?criteria`): the one visible match is deleted as by
   * `DELETE Type/id`; no match deletes nothing (200, said in an OperationOutcome); several: 412
   * (conditionalDelete `single`).
   */
  async conditionalDelete(
    tx: StoreTransaction,
    resourceType: string,
    criteria: string,
  ): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'delete');
    const match = await singleMatch(tx, resourceType, criteria, 'delete');
    if (!match) return { status: 200 };
    return this.delete(tx, resourceType, match.id);
  }

  /**
   * PATCH with a JSON Patch document or a FHIRPath Patch (Parameters): applied to the resource as the actor sees it (a CBO without
   * consent patches its redacted Task, as it would PUT it), then stored by the same rules as an
   * update — validation, the Task state machine, tenancy. Without If-Match the version read here,
   * under the row lock, is the one patched, so a concurrent write cannot be overwritten.
   */
  async patch(
    tx: StoreTransaction,
    resourceType: string,
    id: string,
    document: unknown,
    options: { ifMatch?: number } = {},
  ): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'patch');
    assertId(id);
    const existing = await tx.current(resourceType, id, { forUpdate: true });
    if (!existing) throw notFound(`${resourceType}/${id} is not known`);
    if (existing.deleted) throw gone(`${resourceType}/${id} was deleted`);
    if (options.ifMatch !== undefined && options.ifMatch !== existing.versionId) {
      throw preconditionFailed(
        `${resourceType}/${id} is at version ${existing.versionId}, not ${options.ifMatch} (If-Match): read it again`,
      );
    }
    const seen = await view(tx, existing);
    // The body middleware let through a JSON Patch as an array, a FHIRPath Patch as Parameters.
    const patched = Array.isArray(document)
      ? applyJsonPatch(seen.resource, document)
      : applyFhirPathPatch(seen.resource, document);
    return this.update(tx, resourceType, id, patched, { ifMatch: existing.versionId });
  }

  async delete(tx: StoreTransaction, resourceType: string, id: string): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'delete');
    assertId(id);
    if (resourceType === 'Task') {
      throw methodNotAllowed(
        'Tasks are not deleted: set status entered-in-error (requester) instead',
      );
    }
    const existing = await tx.current(resourceType, id, { forUpdate: true });
    if (!existing) throw notFound(`${resourceType}/${id} is not known`);
    if (existing.deleted) return { status: 204 };
    const stored = await tx.write(existing.resource, 'DELETE', existing, { deleted: true });
    return { status: 204, stored };
  }
}
