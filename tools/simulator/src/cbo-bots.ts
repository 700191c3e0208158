import { randomUUID } from 'node:crypto';
import { FhirApiClient, FhirRequestError, type Resource } from '@carerelay/fhir-client';
import {
  DISPARITIES,
  readTaskContext,
  rejection,
  traitsOf,
  UNREACHED_REASON,
  unreachedShare,
  type TaskContext,
} from './disparities';

/**
 * CBO bots: each acts as one CBO's own FHIR client. It learns of the Tasks addressed to its
 * organization as they are routed (`offer`, fed from the referral events, as a CBO system is told
 * by a notification) and, as a safety net, searches for those that wait for an answer every
 * `pollMs`; then, with short human-like delays, accepts or rejects
 * each (e.g. no capacity), starts the work, and completes it with a Procedure in Task.output
 * (the IG's resulting-activity). Like a CBO system that keeps what it read and wrote, a bot reads
 * the Task, its Patient and ServiceRequest once, then updates the Task with If-Match from the
 * version it last wrote (a stale one costs a 412 and a read); the Procedure and the completed
 * Task are one transaction.
 */

export const SDOHCC_TEMPORARY_CODES =
  'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes';

export interface CboBotOptions {
  /** Interval of each bot's Task search (ms): the only source when no events are offered, else
   * the safety net for Tasks routed before the bots listened. */
  pollMs: number;
  /** Share of new Tasks a bot rejects. */
  rejectShare: number;
  /** Share of new Tasks a bot never answers (to exercise deadlines). */
  ignoreShare: number;
  /** Delays (ms) [min, max] before accepting, starting and completing. */
  acceptDelayMs: [number, number];
  startDelayMs: [number, number];
  completeDelayMs: [number, number];
  /** Most Task changes in flight at once over all bots. */
  concurrency: number;
}

export const DEFAULT_BOT_OPTIONS: CboBotOptions = {
  pollMs: 2000,
  rejectShare: 0.1,
  ignoreShare: 0,
  acceptDelayMs: [500, 3000],
  startDelayMs: [500, 2000],
  completeDelayMs: [1000, 5000],
  concurrency: 16,
};

export interface BotStats {
  seen: number;
  accepted: number;
  rejected: number;
  started: number;
  completed: number;
  /** Accepted, then ended `failed`: the client could not be reached (a planted disparity). */
  unreached: number;
  ignored: number;
  errors: number;
  lastError?: string;
}

const REJECT_REASONS = [
  'No capacity: our waitlist is full this month',
  'Outside our service area',
  'Client does not meet eligibility requirements',
];

const between = ([min, max]: [number, number]) => min + Math.random() * (max - min);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A small semaphore so that hundreds of Tasks do not become hundreds of parallel requests. */
class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active += 1;
    try {
      return await fn();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

export interface CboBotClient {
  organizationId: string;
  fhir: FhirApiClient;
}

export class CboBots {
  readonly stats: BotStats = {
    seen: 0,
    accepted: 0,
    rejected: 0,
    started: 0,
    completed: 0,
    unreached: 0,
    ignored: 0,
    errors: 0,
  };
  private readonly handled = new Set<string>();
  /** The Tasks being worked: the version a bot last read or wrote, and what it names. */
  private readonly working = new Map<string, TaskContext>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly limiter: Limiter;
  private stopped = false;

  constructor(
    private readonly bots: CboBotClient[],
    private readonly options: CboBotOptions = DEFAULT_BOT_OPTIONS,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.limiter = new Limiter(options.concurrency);
  }

  /** A Task routed to an organization: the bot of that organization answers it, once. */
  offer(organizationId: string, taskId: string): boolean {
    const bot = this.bots.find((b) => b.organizationId === organizationId);
    if (!bot || this.stopped || this.handled.has(taskId)) return false;
    this.handled.add(taskId);
    this.stats.seen += 1;
    this.answer(bot, taskId);
    return true;
  }

  start(): void {
    this.bots.forEach((bot, i) => {
      // Spread the bots' polls over the interval instead of searching all at once.
      const offset = (this.options.pollMs * i) / Math.max(1, this.bots.length);
      this.later(offset, () => this.pollLoop(bot));
    });
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private later(ms: number, fn: () => unknown): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) void fn();
    }, ms);
    this.timers.add(timer);
  }

  private async pollLoop(bot: CboBotClient): Promise<void> {
    try {
      const bundle = await this.limiter.run(() =>
        bot.fhir.search('Task', {
          owner: `Organization/${bot.organizationId}`,
          status: 'requested',
          _count: 50,
          _sort: '_lastUpdated',
        }),
      );
      for (const entry of bundle.entry ?? []) {
        const task = entry.resource;
        if (task?.resourceType !== 'Task' || !task.id || this.handled.has(task.id)) continue;
        this.handled.add(task.id);
        this.stats.seen += 1;
        this.answer(bot, task.id);
      }
    } catch (error) {
      this.failed(`search of ${bot.organizationId}`, error);
    }
    this.later(this.options.pollMs, () => this.pollLoop(bot));
  }

  private answer(bot: CboBotClient, taskId: string): void {
    const roll = Math.random();
    if (roll < this.options.ignoreShare) {
      this.stats.ignored += 1;
      return;
    }
    this.later(between(this.options.acceptDelayMs), async () => {
      const context = await readTaskContext(bot.fhir, taskId, !!DISPARITIES).catch(() => undefined);
      if (context) this.working.set(taskId, context);
      // Planted disparities of the demo (see disparities.ts): some patients are turned away more.
      const traits = DISPARITIES && context ? traitsOf(context) : null;
      const bias = rejection(DISPARITIES, bot.organizationId, traits, this.options.rejectShare);
      const reject = roll < this.options.ignoreShare + bias.share;
      const ok = await this.change(bot, taskId, reject ? 'rejected' : 'accepted', (task) => {
        if (task.status !== 'requested') return undefined;
        task.status = reject ? 'rejected' : 'accepted';
        if (reject) {
          const text =
            bias.reason ?? REJECT_REASONS[Math.floor(Math.random() * REJECT_REASONS.length)];
          task.statusReason = { text };
        }
        return task;
      });
      if (ok === 'failed') this.handled.delete(taskId); // the next search picks it up again
      if (ok !== 'changed' || reject) this.working.delete(taskId);
      if (ok !== 'changed') return;
      if (reject) this.stats.rejected += 1;
      else {
        this.stats.accepted += 1;
        const unreached = Math.random() < unreachedShare(DISPARITIES, bot.organizationId, traits);
        this.later(between(this.options.startDelayMs), () => this.start_(bot, taskId, unreached));
      }
    });
  }

  private async start_(bot: CboBotClient, taskId: string, unreached = false): Promise<void> {
    const ok = await this.change(bot, taskId, 'in-progress', (task) => {
      if (task.status !== 'accepted') return undefined;
      task.status = 'in-progress';
      return task;
    });
    if (ok !== 'changed') {
      this.working.delete(taskId);
      return;
    }
    this.stats.started += 1;
    this.later(between(this.options.completeDelayMs), () =>
      unreached ? this.giveUp(bot, taskId) : this.complete(bot, taskId),
    );
  }

  /** The client could not be reached: the Task ends `failed`, and the referral with it. */
  private async giveUp(bot: CboBotClient, taskId: string): Promise<void> {
    const ok = await this.change(bot, taskId, 'failed', (task) => {
      if (task.status !== 'in-progress') return undefined;
      task.status = 'failed';
      task.statusReason = { text: UNREACHED_REASON };
      return task;
    });
    this.working.delete(taskId);
    if (ok === 'changed') this.stats.unreached += 1;
  }

  private async complete(bot: CboBotClient, taskId: string): Promise<void> {
    const held = this.working.get(taskId);
    this.working.delete(taskId);
    try {
      await this.limiter.run(async () => {
        if (held?.task.meta?.versionId && (await this.completeAtOnce(bot, held))) return;
        // No version held, or a stale one: read, create, then update.
        const task = await bot.fhir.read('Task', taskId);
        if (task.status !== 'in-progress') return;
        const procedure = await bot.fhir.create(await this.procedureFor(bot, task, held));
        await bot.fhir.updateWithIfMatch(
          'Task',
          taskId,
          (current) =>
            current.status === 'in-progress'
              ? completed(current, `Procedure/${procedure.id}`)
              : undefined,
          { known: task },
        );
      });
      this.stats.completed += 1;
    } catch (error) {
      this.failed(`completing Task/${taskId}`, error);
    }
  }

  /**
   * The Procedure and the completed Task in one transaction, the Task from the version the bot
   * wrote last (If-Match). False when that version is stale (412: nothing was written).
   */
  private async completeAtOnce(bot: CboBotClient, held: TaskContext): Promise<boolean> {
    const { task } = held;
    if (task.status !== 'in-progress') return false;
    const procedureUrl = `urn:uuid:${randomUUID()}`;
    try {
      await bot.fhir.transaction({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: procedureUrl,
            resource: await this.procedureFor(bot, task, held),
            request: { method: 'POST', url: 'Procedure' },
          },
          {
            resource: completed(structuredClone(task), procedureUrl),
            request: {
              method: 'PUT',
              url: `Task/${task.id}`,
              ifMatch: `W/"${task.meta!.versionId}"`,
            },
          },
        ],
      });
      return true;
    } catch (error) {
      if (error instanceof FhirRequestError && error.status === 412) return false;
      throw error;
    }
  }

  /** The Procedure of a completed Task, from its ServiceRequest (read once, then `held`). */
  private async procedureFor(
    bot: CboBotClient,
    task: Resource,
    held?: TaskContext,
  ): Promise<Resource> {
    let serviceRequest = held?.serviceRequest;
    const focus: string | undefined = task.focus?.reference;
    if (!serviceRequest && focus?.startsWith('ServiceRequest/')) {
      serviceRequest = await bot.fhir.read('ServiceRequest', focus.split('/')[1]).catch(() => {
        return undefined;
      });
      if (held) held.serviceRequest = serviceRequest;
    }
    const now = new Date().toISOString();
    return {
      resourceType: 'Procedure',
      status: 'completed',
      category: serviceRequest?.category?.[0],
      code: serviceRequest?.code ?? {
        coding: [
          {
            system: 'http://snomed.info/sct',
            code: '410606002',
            display: 'Social service procedure',
          },
        ],
      },
      subject: task.for,
      basedOn: focus ? [{ reference: focus }] : undefined,
      performedDateTime: now,
      performer: [{ actor: { reference: `Organization/${bot.organizationId}` } }],
      note: [{ text: 'Service delivered (simulated CBO).' }],
    };
  }

  /**
   * If-Match update of the Task from the version the bot holds (else a read), with retries of
   * transient failures; the version written is held for the next change.
   */
  private async change(
    bot: CboBotClient,
    taskId: string,
    what: string,
    mutate: (task: Resource) => Resource | undefined,
  ): Promise<'changed' | 'unchanged' | 'failed'> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        let changed = false;
        const held = this.working.get(taskId);
        const written = await this.limiter.run(() =>
          bot.fhir.updateWithIfMatch(
            'Task',
            taskId,
            (task) => {
              const next = mutate(task);
              changed = next !== undefined;
              return next;
            },
            { known: held?.task },
          ),
        );
        if (held) held.task = written;
        return changed ? 'changed' : 'unchanged';
      } catch (error) {
        const status = (error as FhirRequestError).status;
        if (attempt < 3 && (status === 0 || status >= 500)) {
          await sleep(500 * attempt);
          continue;
        }
        this.failed(`${what} Task/${taskId}`, error);
        return 'failed';
      }
    }
    return 'failed';
  }

  private failed(what: string, error: unknown): void {
    this.stats.errors += 1;
    this.stats.lastError = `${what}: ${(error as Error).message}`;
    this.log(`bot error: ${this.stats.lastError}`);
  }
}

/** The Task completed, with the Procedure (`reference`) as its resulting activity. */
function completed(task: Resource, reference: string): Resource {
  task.status = 'completed';
  task.output = [
    ...(task.output ?? []),
    {
      type: {
        coding: [
          {
            system: SDOHCC_TEMPORARY_CODES,
            code: 'resulting-activity',
            display: 'Resulting Activity',
          },
        ],
      },
      valueReference: { reference },
    },
  ];
  return task;
}
