import { FhirApiClient, FhirRequestError, type Resource } from '@carerelay/fhir-client';
import { EhrClients, relativeTo } from '../fhir/fhir-clients';
import { CARERELAY_VERSION_EXTENSION, carerelayIdentitySystem } from '../fhir/ehr-identity';
import type { EhrEndpoint } from '../registry/ehr-endpoint.registry';

type Extension = { url?: string; valueInteger?: number };
type Reference = { reference?: string; display?: string };

const versionOnEhr = (task: Resource): number =>
  ((task.extension as Extension[] | undefined) ?? []).find(
    (e) => e.url === CARERELAY_VERSION_EXTENSION,
  )?.valueInteger ?? 0;

/** Makes every reference of `value` absolute on `base` (relative ones only). */
function absolutize<T>(value: T, base: string): T {
  if (Array.isArray(value)) return value.map((v) => absolutize(v, base)) as T;
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    out[key] =
      key === 'reference' && typeof child === 'string' && relativeTo(child, base) === child
        ? `${base}/${child}`
        : absolutize(child, base);
  }
  return out as T;
}

export type PushResult = 'updated' | 'already-there';

/**
 * Writes one CareRelay Task version to the EHR's Task with fhir-kit-client: status,
 * statusReason, businessStatus and output (a CareRelay Procedure is created on the EHR server,
 * once, and referenced there; other outputs by absolute CareRelay URL). If-Match on the EHR
 * Task's version; the CareRelay version written is kept on the EHR Task in an extension, and an
 * EHR Task that already holds this version or a newer one is left alone.
 */
export class EhrTaskPusher {
  constructor(
    private readonly ehrClients: EhrClients,
    private readonly carerelay: FhirApiClient,
  ) {}

  async push(
    endpoint: EhrEndpoint,
    ehrTaskId: string,
    task: Resource,
    version: number,
  ): Promise<PushResult> {
    const ehr = await this.ehrClients.for(endpoint);
    const procedureCache = new Map<string, string>();
    // A Procedure is copied onto the EHR only for a version the EHR does not hold yet: read it
    // first then. Otherwise the If-Match update's own read is the only one (one round trip less).
    if (this.copiesProcedure(task) && versionOnEhr(await ehr.read('Task', ehrTaskId)) >= version)
      return 'already-there';
    const outputs = await this.outputsFor(ehr, task, ehrTaskId, procedureCache);
    let result: PushResult = 'updated';
    await ehr.updateWithIfMatch('Task', ehrTaskId, (current) => {
      if (versionOnEhr(current) >= version) {
        result = 'already-there';
        return undefined;
      }
      const next: Resource = { ...current, status: task.status };
      if (task.statusReason) next.statusReason = task.statusReason;
      else delete next.statusReason;
      if (task.businessStatus) next.businessStatus = task.businessStatus;
      else delete next.businessStatus;
      if (outputs.length > 0) next.output = outputs;
      else delete next.output;
      next.lastModified =
        (task.meta as { lastUpdated?: string } | undefined)?.lastUpdated ??
        new Date().toISOString();
      next.extension = [
        ...((current.extension as Extension[] | undefined) ?? []).filter(
          (e) => e.url !== CARERELAY_VERSION_EXTENSION,
        ),
        { url: CARERELAY_VERSION_EXTENSION, valueInteger: version },
      ];
      return next;
    });
    return result;
  }

  private copiesProcedure(task: Resource): boolean {
    return ((task.output as Array<Record<string, unknown>> | undefined) ?? []).some((output) =>
      relativeTo(
        (output.valueReference as Reference | undefined)?.reference,
        this.carerelay.baseUrl,
      )?.startsWith('Procedure/'),
    );
  }

  private async outputsFor(
    ehr: FhirApiClient,
    task: Resource,
    ehrTaskId: string,
    cache: Map<string, string>,
  ): Promise<unknown[]> {
    const outputs = (task.output as Array<Record<string, unknown>> | undefined) ?? [];
    const result: unknown[] = [];
    for (const output of outputs) {
      const ref = (output.valueReference as Reference | undefined)?.reference;
      const local = relativeTo(ref, this.carerelay.baseUrl);
      if (local?.startsWith('Procedure/')) {
        const id = local.slice('Procedure/'.length);
        let ehrId = cache.get(id);
        if (!ehrId) {
          ehrId = await this.copyProcedure(ehr, id, ehrTaskId);
          cache.set(id, ehrId);
        }
        result.push({
          ...output,
          valueReference: {
            ...(output.valueReference as Reference),
            reference: `Procedure/${ehrId}`,
          },
        });
      } else {
        result.push(absolutize(output, this.carerelay.baseUrl));
      }
    }
    return result;
  }

  /** Creates (conditionally, on CareRelay's identity) the Procedure on the EHR server. */
  private async copyProcedure(ehr: FhirApiClient, id: string, ehrTaskId: string): Promise<string> {
    const procedure = await this.carerelay.read('Procedure', id);
    const ehrTask = await ehr.read('Task', ehrTaskId);
    const system = carerelayIdentitySystem(this.carerelay.baseUrl, 'Procedure');
    const { id: _id, meta: _meta, ...rest } = procedure;
    const copy: Resource = {
      ...absolutize(rest, this.carerelay.baseUrl),
      resourceType: 'Procedure',
      identifier: [
        ...((procedure.identifier as unknown[] | undefined) ?? []),
        { system, value: id },
      ],
    };
    // On the EHR, the Procedure is about the EHR's own ServiceRequest and Patient.
    if (ehrTask.focus?.reference) copy.basedOn = [{ reference: ehrTask.focus.reference }];
    if (ehrTask.for?.reference) copy.subject = { ...ehrTask.for };
    try {
      const created = await ehr.createIfNoneExist(copy, `identifier=${system}|${id}`);
      return created.id as string;
    } catch (error) {
      if (error instanceof FhirRequestError && error.status === 412) {
        const found = await ehr.search('Procedure', { identifier: `${system}|${id}` });
        const first = found.entry?.[0]?.resource?.id;
        if (first) return first;
      }
      throw error;
    }
  }
}
