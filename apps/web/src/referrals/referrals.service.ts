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
import { OperatorActionsRepository } from '../platform/operator-actions.repository';
import { ServiceCallError, ServicesGateway } from '../platform/services.gateway';
import { WEB_CONFIG, WebConfig } from '../web.config';
import { FhirCallError, FhirGateway } from './fhir.gateway';
import { NotesRepository } from './notes.repository';
import { applyAction, outcomeProcedure, type ReferralAction } from './referral-actions';
import {
  chunksOf,
  isAwaitingConsent,
  statusChanges,
  taskReferralId,
  type FollowupTimer,
  matchesFilter,
  matchesSearch,
  summarize,
  taskFocusId,
  taskOwnerId,
  taskPatientId,
  taskRequesterId,
  timersByReferral,
  type DeadlinePolicy,
  type InboxFilter,
  type Resource,
} from './referral-view';

type Bundle = Resource & { entry?: Array<{ resource?: Resource }> };

const TIMER_CACHE_MS = 10_000;

export interface ContactAttemptInput {
  channel: string;
  outcome: string;
  note?: string;
}

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

/** A follow-up service refusal as a person reads it. */
export function followupError(error: unknown): never {
  if (!(error instanceof ServiceCallError)) throw error;
  if (error.status === 400 || error.status === 422)
    throw new UnprocessableEntityException(
      `This contact attempt was not recorded${error.detail ? `: ${error.detail}` : ''}`,
    );
  throw new HttpException(
    'The follow-up service is not answering right now: try again in a moment',
    502,
  );
}

@Injectable()
export class ReferralsService {
  private readonly policy: DeadlinePolicy;
  private readonly names = new Map<string, string>();
  /** The referring organization of each referral (source Task id): it never changes. */
  private readonly referringOrganizations = new Map<string, string>();
  private readonly timerCache = new Map<string, { timers: FollowupTimer[]; until: number }>();

  constructor(
    private readonly fhir: FhirGateway,
    private readonly platform: ServicesGateway,
    private readonly notes: NotesRepository,
    private readonly operatorActions: OperatorActionsRepository,
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
    const referralIds = [
      ...new Set(tasks.map(taskReferralId).filter((id): id is string => id !== undefined)),
    ];
    const [timers] = await Promise.all([
      this.timersOf(referralIds),
      this.loadReferringOrganizations(referralIds),
    ]);
    for (const id of new Set(tasks.map((t) => this.referringOrganizationOf(t))))
      await this.organizationName(user, id);
    const now = new Date();
    const all = tasks.map((t) =>
      summarize(t, requests.get(taskFocusId(t)), this.names, this.policy, now, {
        timers: timers.get(taskReferralId(t) ?? ''),
        referringOrganizationId: this.referringOrganizationOf(t),
      }),
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

  private referringOrganizationOf(task: Resource): string | undefined {
    const referralId = taskReferralId(task);
    return (referralId && this.referringOrganizations.get(referralId)) || taskRequesterId(task);
  }

  /**
   * The hospitals that sent these referrals: the requester of each source Task, read as the
   * platform (a CBO may not read the hospital's Task) in one search, for referrals already
   * addressed to the person's organization. Unknown ones show the CBO Task's requester.
   */
  private async loadReferringOrganizations(referralIds: readonly string[]): Promise<void> {
    const missing = referralIds.filter((id) => !this.referringOrganizations.has(id));
    if (missing.length === 0 || !this.platform.connected) return;
    for (const ids of chunksOf(missing, 50)) {
      const bundle = await this.platform
        .request<Bundle>(
          'fhir',
          'GET',
          `Task?_id=${ids.map(encodeURIComponent).join(',')}&_count=50`,
        )
        .catch(() => undefined);
      for (const task of (bundle?.entry ?? []).map((e) => e.resource)) {
        const requester = task && taskRequesterId(task);
        if (task?.id && requester) this.referringOrganizations.set(task.id, requester);
      }
    }
  }

  /**
   * The follow-up service's timers of each referral, asked in one call per 100 referrals; none
   * for those of a call it cannot answer. Kept for a few seconds: every live event reloads every
   * open inbox, and a deadline moves only when the referral changes stage (an accepted referral
   * then reads its closure timer).
   */
  private async timersOf(referralIds: readonly string[]): Promise<Map<string, FollowupTimer[]>> {
    const timers = new Map<string, FollowupTimer[]>();
    if (!this.platform.connected) return timers;
    const now = Date.now();
    const missing: string[] = [];
    for (const id of new Set(referralIds)) {
      const cached = this.timerCache.get(id);
      if (cached && cached.until > now) timers.set(id, cached.timers);
      else missing.push(id);
    }
    await Promise.all(
      chunksOf(missing).map(async (ids) => {
        const found = await this.platform
          .request<FollowupTimer[]>(
            'followup',
            'GET',
            `timers?referral=${ids.map(encodeURIComponent).join(',')}`,
          )
          .catch(() => undefined);
        if (!Array.isArray(found)) return;
        for (const [id, list] of timersByReferral(ids, found)) {
          timers.set(id, list);
          // Only a referral with timers is kept: one not yet seen is asked again next time.
          if (list.length > 0)
            this.timerCache.set(id, { timers: list, until: now + TIMER_CACHE_MS });
        }
      }),
    );
    if (this.timerCache.size > 5000) {
      for (const [id, entry] of this.timerCache) if (entry.until <= now) this.timerCache.delete(id);
    }
    return timers;
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
      .request<Bundle>(user, 'GET', `Task/${encodeURIComponent(id)}/_history?_count=1000`)
      .catch(() => ({ resourceType: 'Bundle', entry: [] }) as Bundle);
    const referralId = taskReferralId(task);
    const [timers, attempts, notes] = await Promise.all([
      referralId ? this.timersOf([referralId]) : new Map<string, FollowupTimer[]>(),
      this.contactAttemptsOf(user, task),
      this.notes.of(user.organizationId, id),
      referralId ? this.loadReferringOrganizations([referralId]) : undefined,
    ]);
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
      (referralId && this.referringOrganizations.get(referralId)) ||
      taskRequesterId({ resourceType: 'Task', requester: original?.requester }) ||
      taskRequesterId(task);
    const requester = await this.organizationName(user, referringOrg);
    const summary = summarize(task, serviceRequest, this.names, this.policy, new Date(), {
      timers: timers.get(referralId ?? ''),
      referringOrganizationId: referringOrg,
    });
    const clinician = (original?.requester as { display?: string } | undefined)?.display;
    return {
      ...summary,
      requester,
      clinician: awaitingConsent ? undefined : clinician,
      statusReason: (task.statusReason as { text?: string } | undefined)?.text,
      awaitingConsent: awaitingConsent || !patient,
      patient: patient ? patientView(patient) : undefined,
      history: statusChanges((history.entry ?? []).map((e) => e.resource!)),
      contactAttempts: attempts,
      notes,
      followupConnected: this.platform.connected,
    };
  }

  /** This organization's contact attempts on the referral (another CBO's earlier ones stay theirs). */
  private async contactAttemptsOf(user: SessionUser, task: Resource) {
    const referralId = taskReferralId(task);
    if (!referralId || !this.platform.connected) return [];
    const rows = await this.platform
      .request<
        Array<{
          id: string;
          organizationId: string | null;
          channel: string;
          outcome: string;
          note: string | null;
          at: string;
        }>
      >('followup', 'GET', `referrals/${encodeURIComponent(referralId)}/contact-attempts`)
      .catch(() => []);
    return rows
      .filter((r) => r.organizationId === user.organizationId)
      .map((r) => ({ id: r.id, channel: r.channel, outcome: r.outcome, note: r.note, at: r.at }))
      .sort((a, b) => String(a.at).localeCompare(String(b.at)));
  }

  async recordContactAttempt(user: SessionUser, id: string, attempt: ContactAttemptInput) {
    const task = await this.ownTask(user, id);
    const referralId = taskReferralId(task);
    if (!referralId)
      throw new UnprocessableEntityException('This referral has no follow-up record to add to');
    const recorded = await this.platform
      .request<{ id: string }>(
        'followup',
        'POST',
        `referrals/${encodeURIComponent(referralId)}/contact-attempts`,
        {
          channel: attempt.channel,
          outcome: attempt.outcome,
          ...(attempt.note?.trim() ? { note: attempt.note.trim() } : {}),
          organizationId: user.organizationId,
        },
      )
      .catch(followupError);
    // The follow-up service knows the organization; the person is recorded here.
    await this.operatorActions.record({
      username: user.username,
      organizationId: user.organizationId,
      action: 'contact-attempt',
      target: `contact-attempt/${recorded.id}`,
      detail: { taskId: id, referralId },
    });
    return this.referral(user, id);
  }

  async addNote(user: SessionUser, id: string, text: string) {
    await this.ownTask(user, id);
    await this.notes.add({
      taskId: id,
      organizationId: user.organizationId,
      username: user.username,
      displayName: user.displayName,
      text: text.trim(),
    });
    return this.referral(user, id);
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
