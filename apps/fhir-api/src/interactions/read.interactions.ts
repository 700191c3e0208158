import { gone, notFound } from '@carerelay/fhir';
import type { StoreTransaction } from '../store/store.transaction';
import { type InteractionResult, view } from './interaction.results';
import { assertId, authorize } from './interaction.rules';

/** read and vread: one version the actor may read, as it is shown to it. */
export class ReadInteractions {
  async read(tx: StoreTransaction, resourceType: string, id: string): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'read');
    assertId(id);
    const current = await tx.current(resourceType, id);
    if (!current) throw notFound(`${resourceType}/${id} is not known`);
    const stored = await view(tx, current);
    if (stored.deleted) throw gone(`${resourceType}/${id} was deleted`);
    return { status: 200, body: stored.resource, stored };
  }

  async vread(
    tx: StoreTransaction,
    resourceType: string,
    id: string,
    versionId: string,
  ): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'vread');
    assertId(id);
    if (!/^\d{1,9}$/.test(versionId))
      throw notFound(`${resourceType}/${id} has no version ${versionId.slice(0, 20)}`);
    const version = await tx.version(resourceType, id, Number(versionId));
    if (!version) throw notFound(`${resourceType}/${id} has no version ${versionId}`);
    const stored = await view(tx, version);
    if (stored.deleted) throw gone(`${resourceType}/${id} version ${versionId} is a deletion`);
    return { status: 200, body: stored.resource, stored };
  }
}
