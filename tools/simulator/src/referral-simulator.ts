import { FhirApiClient, type Bundle, type Resource } from '@carerelay/fhir-client';
import { ReferralGenerator, type GeneratedReferral } from './referral-generator';

export interface SimulatorStats {
  sent: number;
  failed: number;
  inFlight: number;
  /** Referrals due by the rate but not sent because too many were in flight. */
  skipped: number;
  consentsLater: number;
  /** Latency of the EHR's transaction (ms): p50 and p99 of the last 1,000. */
  p50Ms: number;
  p99Ms: number;
  lastError?: string;
}

/** A hospital whose referrals go through its own (stand-in) EHR FHIR server. */
export interface EhrServerRoute {
  /** push: the EHR keeps its Task and sends a copy naming it; CareRelay pushes changes back.
   *  pull: the referral is placed on the EHR server only; CareRelay pulls it. */
  mode: 'push' | 'pull';
  client: FhirApiClient;
  baseUrl: string;
}

export interface SimulatorOptions {
  /** Referrals per second over all hospitals. */
  rate: number;
  /** Most transactions in flight at once. */
  maxInFlight: number;
  /** Delay before a delayed Consent is sent (ms). */
  consentDelayMs: number;
}

/**
 * Sends the generator's referrals at a steady rate, each as its hospital's EHR client (one
 * transaction Bundle per referral), and the Consents that come later.
 */
export class ReferralSimulator {
  readonly stats: SimulatorStats = {
    sent: 0,
    failed: 0,
    inFlight: 0,
    skipped: 0,
    consentsLater: 0,
    p50Ms: 0,
    p99Ms: 0,
  };
  private readonly latencies: number[] = [];
  private timer?: NodeJS.Timeout;
  private readonly pending = new Set<Promise<void>>();
  private startedAt = 0;
  private due = 0;

  constructor(
    private readonly generator: ReferralGenerator,
    private readonly ehrs: ReadonlyMap<string, FhirApiClient>,
    private readonly options: SimulatorOptions,
    private readonly log: (line: string) => void = () => undefined,
    private readonly ehrServers: ReadonlyMap<string, EhrServerRoute> = new Map(),
  ) {}

  start(): void {
    if (this.options.rate <= 0) return;
    this.startedAt = Date.now();
    this.timer = setInterval(() => this.tick(), 50);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.pending]);
  }

  /** Sends one referral now and resolves with the transaction response. */
  async sendOne(referral: GeneratedReferral = this.generator.next()): Promise<Bundle> {
    const ehr = this.ehrs.get(referral.hospitalId);
    if (!ehr) throw new Error(`no EHR client for ${referral.hospitalId}`);
    const started = Date.now();
    const route = this.ehrServers.get(referral.hospitalId);
    if (route?.mode === 'pull') {
      // Placed on the EHR's own server, owned by the platform: the ehr-connector pulls it.
      const response = await route.client.transaction(withoutConditions(referral.bundle));
      this.record(Date.now() - started);
      return response;
    }
    if (route?.mode === 'push') {
      // The EHR's own Task first; CareRelay's copy names it, so that changes are pushed back.
      const task = entryOf(referral.bundle, 'Task');
      const { identifier: _identifier, focus: _focus, for: _for, ...own } = task;
      const ehrTask = await route.client.create<Resource>({ ...own, resourceType: 'Task' });
      task.identifier = [
        ...(task.identifier ?? []),
        { system: `${route.baseUrl}/Task`, value: ehrTask.id },
      ];
    }
    const response = await ehr.transaction(referral.bundle);
    this.record(Date.now() - started);
    if (referral.laterConsent) this.sendConsentLater(ehr, referral.laterConsent, response);
    return response;
  }

  private tick(): void {
    const target = Math.floor(((Date.now() - this.startedAt) / 1000) * this.options.rate);
    while (this.due < target) {
      this.due += 1;
      if (this.stats.inFlight >= this.options.maxInFlight) {
        this.stats.skipped += 1;
        continue;
      }
      this.track(
        this.sendOne().then(
          () => {
            this.stats.sent += 1;
          },
          (error: unknown) => {
            this.stats.failed += 1;
            this.stats.lastError = (error as Error).message;
            if (this.stats.failed <= 5 || this.stats.failed % 100 === 0)
              this.log(`referral failed (${this.stats.failed} so far): ${this.stats.lastError}`);
          },
        ),
      );
    }
  }

  private track(work: Promise<void>): void {
    this.stats.inFlight += 1;
    const done = work.finally(() => {
      this.stats.inFlight -= 1;
      this.pending.delete(done);
    });
    this.pending.add(done);
  }

  private sendConsentLater(ehr: FhirApiClient, consent: Resource, response: Bundle): void {
    const patientLocation = (response.entry ?? [])
      .map((e) => (e as { response?: { location?: string } }).response?.location)
      .find((location) => location?.includes('Patient/'));
    const patientId = patientLocation?.match(/Patient\/([^/]+)/)?.[1];
    if (!patientId) return;
    const body = { ...consent, patient: { reference: `Patient/${patientId}` } };
    const timer = setTimeout(() => {
      this.track(
        ehr.create(body).then(
          () => {
            this.stats.consentsLater += 1;
          },
          (error: unknown) => {
            this.stats.lastError = `late consent: ${(error as Error).message}`;
          },
        ),
      );
    }, this.options.consentDelayMs);
    timer.unref();
  }

  private record(ms: number): void {
    this.latencies.push(ms);
    if (this.latencies.length > 1000) this.latencies.shift();
    const sorted = [...this.latencies].sort((a, b) => a - b);
    this.stats.p50Ms = sorted[Math.floor(sorted.length * 0.5)] ?? 0;
    this.stats.p99Ms = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
  }
}

const entryOf = (bundle: Resource, type: string): Resource =>
  (bundle.entry as Array<{ resource: Resource }>).find((e) => e.resource.resourceType === type)!
    .resource;

/** The Bundle without ifNoneExist (the stand-in EHR server gets fresh resources anyway). */
function withoutConditions(bundle: Resource): Resource {
  return {
    ...bundle,
    entry: (bundle.entry as Array<{ request: Record<string, unknown> }>).map((e) => {
      const { ifNoneExist: _ifNoneExist, ...request } = e.request;
      return { ...e, request };
    }),
  };
}
