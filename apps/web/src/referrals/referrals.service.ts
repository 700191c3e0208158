import {
  ConflictException,
  ForbiddenException,
  HttpException,
  Inject,
  Injectable,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import type { SessionUser } from '../accounts/account.model';
import { WEB_CONFIG, WebConfig } from '../web.config';
import { FhirCallError, FhirGateway } from './fhir.gateway';
import { applyAction, outcomeProcedure, type ReferralAction } from './referral-actions';
import {
  isAwaitingConsent,
  matchesFilter,
  matchesSearch,
  summarize,
  taskFocusId,
  taskOwnerId,
  taskPatientId,
  taskRequesterId,
  type DeadlinePolicy,
  type InboxFilter,
  type Resource,
} from './referral-view';

type Bundle = Resource & { entry?: Array<{ resource?: Resource }> };

/** FHIR answers as a person reads them; the FHIR API's rules decide, we only say it plainly. */
export function plainError(error: unknown): never {
  if (!(error instanceof FhirCallError)) throw error;
  switch (error.status) {
    case 404:
    case 410:
      throw new NotFoundException('This referral does not exist or is not addressed to you');
    case 403:
      throw new ForbiddenException('Your organization may not do this');
    case 409:
    case 412:
      throw new ConflictException(
        'Someone else changed this referral a moment ago. It has been reloaded: check it and try again.',
      );
    case 400:
    case 422:
      throw new UnprocessableEntityException(
        `This change is not allowed now${error.diagnostics ? `: ${error.diagnostics}` : ''}`,
      );
    default:
      throw new HttpException('CareRelay is not answering right now: try again in a moment', 502);
  }
}

@Injectable()
export class ReferralsService {
  private readonly policy: DeadlinePolicy;
  private readonly names = new Map<string, string>();

  constructor(
    private readonly fhir: FhirGateway,
    @Inject(WEB_CONFIG) config: WebConfig,
  ) {
    this.policy = {
      acceptWithinHours: config.WEB_ACCEPT_WITHIN_HOURS,
      closeWithinDays: config.WEB_CLOSE_WITHIN_DAYS,
    };
  }

  private async organizationName(
    user: SessionUser,
    id: string | undefined,
  ): Promise<string | undefined> {
    if (!id) return undefined;
    if (!this.names.has(id)) {
      const org = await this.fhir
        .request(user, 'GET', `Organization/${encodeURIComponent(id)}`)
        .catch(() => undefined);
      // An organization without a readable record is shown by its id (and not asked again).
      this.names.set(id, String(org?.name ?? id));
    }
    return this.names.get(id);
  }

  async inbox(user: SessionUser, filter: InboxFilter, query: string) {
    const bundle = await this.fhir
      .request<Bundle>(
        user,
        'GET',
        `Task?owner=${encodeURIComponent(`Organization/${user.organizationId}`)}&_include=Task:focus&_sort=-_lastUpdated&_count=100`,
      )
      .catch(plainError);
    const resources = (bundle.entry ?? []).map((e) => e.resource!).filter(Boolean);
    const requests = new Map(
      resources.filter((r) => r.resourceType === 'ServiceRequest').map((r) => [r.id, r]),
    );
    const tasks = resources.filter(
      (r) => r.resourceType === 'Task' && taskOwnerId(r) === user.organizationId,
    );
    for (const id of new Set(tasks.map(taskRequesterId))) await this.organizationName(user, id);
    const now = new Date();
    const all = tasks.map((t) =>
      summarize(t, requests.get(taskFocusId(t)), this.names, this.policy, now),
    );
    const counts = Object.fromEntries(
      (['new', 'accepted', 'in-progress', 'on-hold', 'due-soon', 'overdue'] as const).map((f) => [
        f,
        all.filter((s) => matchesFilter(s, f)).length,
      ]),
    );
    return {
      referrals: all.filter((s) => matchesFilter(s, filter) && matchesSearch(s, query)),
      counts,
      total: all.length,
    };
  }

  /** The CBO Task of the person's organization; anyone else's is "not found". */
  private async ownTask(user: SessionUser, id: string): Promise<Resource> {
    const task = await this.fhir
      .request(user, 'GET', `Task/${encodeURIComponent(id)}`)
      .catch(plainError);
    if (task.resourceType !== 'Task' || taskOwnerId(task) !== user.organizationId) {
      throw new NotFoundException('This referral does not exist or is not addressed to you');
    }
    return task;
  }

  async referral(user: SessionUser, id: string) {
    const task = await this.ownTask(user, id);
    const focusId = taskFocusId(task);
    const serviceRequest = focusId
      ? await this.fhir.request(user, 'GET', `ServiceRequest/${focusId}`).catch(() => undefined)
      : undefined;
    const awaitingConsent = isAwaitingConsent(task);
    const patientId = taskPatientId(task);
    // Nothing of the patient unless the FHIR API discloses the Patient (a consent covers us).
    const patient =
      !awaitingConsent && patientId
        ? await this.fhir.request(user, 'GET', `Patient/${patientId}`).catch(() => undefined)
        : undefined;
    const history = await this.fhir
      .request<Bundle>(user, 'GET', `Task/${encodeURIComponent(id)}/_history?_count=50`)
      .catch(() => ({ resourceType: 'Bundle', entry: [] }) as Bundle);
    // The CBO's copy is requested by the platform; the hospital's own request (basedOn) names
    // the referring organization and clinician, when the FHIR API lets us read it.
    const originalId = (
      serviceRequest?.basedOn as Array<{ reference?: string }> | undefined
    )?.[0]?.reference?.match(/^ServiceRequest\/([A-Za-z0-9\-.]{1,64})$/)?.[1];
    const original =
      originalId && !awaitingConsent
        ? await this.fhir
            .request(user, 'GET', `ServiceRequest/${originalId}`)
            .catch(() => undefined)
        : undefined;
    const referringOrg =
      taskRequesterId({ resourceType: 'Task', requester: original?.requester }) ??
      taskRequesterId(task);
    const requester = await this.organizationName(user, referringOrg);
    const summary = summarize(task, serviceRequest, this.names, this.policy, new Date());
    const clinician = (original?.requester as { display?: string } | undefined)?.display;
    return {
      ...summary,
      requester,
      clinician: awaitingConsent ? undefined : clinician,
      statusReason: (task.statusReason as { text?: string } | undefined)?.text,
      awaitingConsent: awaitingConsent || !patient,
      patient: patient ? patientView(patient) : undefined,
      history: (history.entry ?? [])
        .map((e) => e.resource!)
        .filter((r) => r?.resourceType === 'Task')
        .map((r) => ({
          version: (r.meta as { versionId?: string })?.versionId,
          status: String(r.status),
          at: (r.meta as { lastUpdated?: string })?.lastUpdated,
          reason: (r.statusReason as { text?: string } | undefined)?.text,
        }))
        .sort((a, b) => String(a.at).localeCompare(String(b.at))),
    };
  }

  async act(
    user: SessionUser,
    id: string,
    action: Omit<ReferralAction, 'procedureId'> & { outcome?: string },
  ) {
    const task = await this.ownTask(user, id);
    let change: ReferralAction = action as ReferralAction;
    if (action.action === 'complete') {
      const focusId = taskFocusId(task);
      const serviceRequest = focusId
        ? await this.fhir.request(user, 'GET', `ServiceRequest/${focusId}`).catch(() => undefined)
        : undefined;
      const procedure = await this.fhir
        .request(user, 'POST', 'Procedure', {
          body: outcomeProcedure(
            task,
            serviceRequest,
            action.outcome ?? '',
            user.organizationId,
            new Date(),
          ),
        })
        .catch(plainError);
      change = {
        action: 'complete',
        outcome: action.outcome ?? '',
        procedureId: String(procedure.id),
      };
    }
    const version = (task.meta as { versionId?: string } | undefined)?.versionId ?? '';
    await this.fhir
      .request(user, 'PUT', `Task/${encodeURIComponent(id)}`, {
        body: applyAction(task, change),
        headers: { 'if-match': `W/"${version}"` },
      })
      .catch(plainError);
    return this.referral(user, id);
  }
}

/** What the referral page shows of a disclosed Patient: name, contact, preferred language. */
export function patientView(patient: Resource) {
  const name = (patient.name as Array<{ text?: string; given?: string[]; family?: string }>)?.[0];
  const telecom = (patient.telecom as Array<{ system?: string; value?: string }>) ?? [];
  const communication =
    (patient.communication as Array<{ language?: unknown; preferred?: boolean }>) ?? [];
  const preferred = communication.find((c) => c.preferred) ?? communication[0];
  const language = preferred?.language as
    { text?: string; coding?: Array<{ display?: string; code?: string }> } | undefined;
  return {
    name: name?.text ?? [...(name?.given ?? []), name?.family].filter(Boolean).join(' '),
    phone: telecom.find((t) => t.system === 'phone')?.value,
    email: telecom.find((t) => t.system === 'email')?.value,
    language: language?.text ?? language?.coding?.[0]?.display ?? language?.coding?.[0]?.code,
    birthDate: patient.birthDate as string | undefined,
  };
}
