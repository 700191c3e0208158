import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { brokersOf } from '@carerelay/config';
import { TOPICS, type FhirResourceChangedV1 } from '@carerelay/contracts';
import { WEB_CONFIG, WebConfig } from '../web.config';

export interface LiveChange {
  resourceType: string;
  id: string;
  organizations: string[];
}
type Listener = (change: LiveChange) => void;

const LIVE_FEED_WAIT_MS = 30_000;

/**
 * Feeds the inbox's server-sent events from fhir.changes.v1 (binary CloudEvents: the value is
 * the data). Only the change's type, id and organizations are kept; each listener gets the
 * changes of its own organization's Tasks. Nothing is written, so there is no inbox table: the
 * group starts at the topic's end and a missed change costs only a refresh.
 */
@Injectable()
export class LiveUpdatesService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('LiveUpdates');
  private readonly listeners = new Map<string, Set<Listener>>();
  private consumer?: Consumer;

  constructor(@Inject(WEB_CONFIG) private readonly config: WebConfig) {}

  async onApplicationBootstrap(): Promise<void> {
    const kafka = new Kafka({
      clientId: `web-live-${process.pid}`,
      brokers: brokersOf(this.config),
      logLevel: logLevel.NOTHING,
    });
    this.consumer = kafka.consumer({
      groupId: `${this.config.WEB_LIVE_CONSUMER_GROUP}-${this.config.WEB_PORT}`,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      // A change is answered at once (minBytes 1); this is only how often an idle feed asks
      // again, and how soon the first fetch places the group (readiness waits for it).
      maxWaitTimeInMs: 1000,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: TOPICS.fhirChanges.name, fromBeginning: false });
    // The group starts at the topic's end as of its first fetch: a change published before that
    // is never shown. Waiting for the first fetch here keeps the app from listening (and so from
    // being ready) until the feed is in place, bounded so that a slow broker cannot stop it.
    const positioned = new Promise<void>((resolve) => {
      const off = this.consumer!.on(this.consumer!.events.FETCH, () => {
        off();
        resolve();
      });
    });
    await this.consumer.run({
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
    if (waited) this.logger.log(`live updates from ${TOPICS.fhirChanges.name}`);
    else
      this.logger.warn(
        `live updates from ${TOPICS.fhirChanges.name}: not positioned after ${LIVE_FEED_WAIT_MS / 1000} s; changes until then are shown on refresh only`,
      );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }

  publish(change: LiveChange): void {
    for (const organizationId of change.organizations) {
      for (const listener of this.listeners.get(organizationId) ?? []) listener(change);
    }
  }

  subscribe(organizationId: string, listener: Listener): () => void {
    const set = this.listeners.get(organizationId) ?? new Set();
    set.add(listener);
    this.listeners.set(organizationId, set);
    return () => set.delete(listener);
  }
}
