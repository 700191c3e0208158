import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Kafka, logLevel, type Admin, type Consumer } from 'kafkajs';
import { brokersOf } from '@carerelay/config';
import { TOPICS, type FhirResourceChangedV1 } from '@carerelay/contracts';
import { WEB_CONFIG, WebConfig } from '../web.config';

export interface LiveChange {
  resourceType: string;
  id: string;
  organizations: string[];
}
type Listener = (change: LiveChange) => void;

const TOPIC = TOPICS.fhirChanges.name;
const LIVE_FEED_WAIT_MS = 30_000;
// Records carry their producer's clock: a resumed feed starts this much before the stream opened
// so that a producer slightly behind is not skipped. A change shown twice costs nothing.
const CLOCK_SKEW_MS = 1000;

/**
 * Feeds the inbox's server-sent events from fhir.changes.v1 (binary CloudEvents: the value is
 * the data). Only the change's type, id and organizations are kept; each listener gets the
 * changes of its own organization's Tasks. Nothing is written, so there is no inbox table: the
 * group starts at the topic's end and a missed change costs only a refresh.
 *
 * The feed reads only while a stream is open. With none it is paused, not disconnected: the group
 * stays joined (heartbeats, no fetches). The first stream to open moves it to the changes
 * published from then on, so those published while it was paused are never read.
 */
@Injectable()
export class LiveUpdatesService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('LiveUpdates');
  private readonly listeners = new Map<string, Set<Listener>>();
  private listening = 0;
  private consumer?: Consumer;
  private admin?: Admin;
  /** Set by the first fetch: the feed is paused or moved only once the group is placed. */
  private positioned = false;
  private closed = false;
  /** Bumped by every pause, resume and shutdown: a move that finds it changed is stale. */
  private turn = 0;

  constructor(@Inject(WEB_CONFIG) private readonly config: WebConfig) {}

  async onApplicationBootstrap(): Promise<void> {
    const kafka = new Kafka({
      clientId: `web-live-${process.pid}`,
      brokers: brokersOf(this.config),
      logLevel: logLevel.NOTHING,
    });
    const consumer = kafka.consumer({
      groupId: `${this.config.WEB_LIVE_CONSUMER_GROUP}-${this.config.WEB_PORT}`,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      // A change is answered at once (minBytes 1); this is only how often an idle feed asks
      // again, and how soon the first fetch places the group (readiness waits for it). Paused,
      // the feed sleeps this long between its looks at the pause instead of fetching.
      maxWaitTimeInMs: 1000,
    });
    this.consumer = consumer;
    // Finds where a resumed feed starts: connected now so that a stream's first open is quick.
    this.admin = kafka.admin();
    await consumer.connect();
    await this.admin.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: false });
    // The group starts at the topic's end as of its first fetch: a change published before that
    // is never shown. Waiting for the first fetch here keeps the app from listening (and so from
    // being ready) until the feed is in place, bounded so that a slow broker cannot stop it.
    const positioned = new Promise<void>((resolve) => {
      const off = consumer.on(consumer.events.FETCH, () => {
        off();
        resolve();
      });
    });
    // Paused once placed, whenever that is (the wait below gives up, the first fetch does not).
    void positioned.then(() => {
      this.positioned = true;
      if (this.listening === 0) this.pause();
    });
    // kafkajs restarts a crashed consumer with a new group state, not paused: paused again on
    // joining, before its first fetch.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (this.listening === 0) this.pause();
    });
    await consumer.run({
      eachMessage: async ({ message }) => {
        try {
          const value = JSON.parse(
            message.value?.toString() ?? '{}',
          ) as Partial<FhirResourceChangedV1> & {
            data?: FhirResourceChangedV1;
          };
          const data = value.data ?? value;
          if (data.resourceType !== 'Task' || typeof data.id !== 'string') return;
          this.publish({
            resourceType: data.resourceType,
            id: data.id,
            organizations: Array.isArray(data.organizations) ? data.organizations : [],
          });
        } catch {
          // Not a change this app can read: the next one may be.
        }
      },
    });
    const waited = await Promise.race([
      positioned.then(() => true),
      new Promise<boolean>((resolve) =>
        setTimeout(() => resolve(false), LIVE_FEED_WAIT_MS).unref(),
      ),
    ]);
    if (waited) this.logger.log(`live updates from ${TOPIC}`);
    else
      this.logger.warn(
        `live updates from ${TOPIC}: not positioned after ${LIVE_FEED_WAIT_MS / 1000} s; changes until then are shown on refresh only`,
      );
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    this.turn += 1;
    await Promise.all([
      this.consumer?.disconnect().catch(() => undefined),
      this.admin?.disconnect().catch(() => undefined),
    ]);
  }

  publish(change: LiveChange): void {
    for (const organizationId of change.organizations) {
      for (const listener of this.listeners.get(organizationId) ?? []) listener(change);
    }
  }

  subscribe(organizationId: string, listener: Listener): () => void {
    const set = this.listeners.get(organizationId) ?? new Set();
    this.listeners.set(organizationId, set);
    if (!set.has(listener)) {
      set.add(listener);
      if (++this.listening === 1) this.resume();
    }
    return () => {
      if (!set.delete(listener)) return;
      if (set.size === 0) this.listeners.delete(organizationId);
      if (--this.listening === 0) this.pause();
    };
  }

  /** No stream open: no more fetches, the group stays joined. */
  private pause(): void {
    if (!this.positioned || this.closed) return;
    this.turn += 1;
    this.consumer!.pause([{ topic: TOPIC }]);
  }

  /**
   * A first stream opened: the feed resumes at the changes published from its opening on, found
   * by the records' timestamps (a change published while the broker answers is not skipped).
   * Started at once, done when the broker answers; a pause or shutdown meanwhile makes it stale.
   */
  private resume(): void {
    if (!this.positioned || this.closed) return;
    const turn = ++this.turn;
    const consumer = this.consumer!;
    this.admin!.fetchTopicOffsetsByTimestamp(TOPIC, Date.now() - CLOCK_SKEW_MS)
      .then((offsets) => {
        if (turn !== this.turn) return;
        // A seek is applied by the next fetch, before it asks for anything.
        for (const { partition, offset } of offsets)
          consumer.seek({ topic: TOPIC, partition, offset });
        consumer.resume([{ topic: TOPIC }]);
      })
      .catch((error: unknown) => {
        if (turn !== this.turn) return;
        // kafkajs's errors here name brokers and topics, never a record.
        this.logger.warn(
          `live updates: where to resume not found (${(error as Error).name}: ${(error as Error).message}); resuming at the topic's end`,
        );
        // -1: the end as the consumer finds it at its next fetch, not the backlog of the pause.
        for (const { topic, partitions } of consumer.paused())
          for (const partition of partitions) consumer.seek({ topic, partition, offset: '-1' });
        consumer.resume([{ topic: TOPIC }]);
      });
  }
}
