import { Counter, Gauge, Histogram, register } from 'prom-client';

// Registered on prom-client's default registry, which every app serves at /metrics.

export const eventsConsumed = new Counter({
  name: 'carerelay_events_consumed_total',
  help: 'Events handled by a consumer, by outcome (applied, duplicate, skipped, dead-lettered)',
  labelNames: ['consumer', 'type', 'outcome'],
  registers: [register],
});

export const eventHandlingSeconds = new Histogram({
  name: 'carerelay_event_handling_seconds',
  help: 'Time from delivery to the effect committed, retries included',
  labelNames: ['consumer'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [register],
});

export const eventsPublished = new Counter({
  name: 'carerelay_outbox_published_total',
  help: 'Outbox rows published to Kafka',
  labelNames: ['schema'],
  registers: [register],
});

/** Filled by each running consumer from the broker's offsets (see IdempotentConsumer). */
export const consumerLag = new Gauge({
  name: 'carerelay_consumer_lag',
  help: 'Messages not yet consumed, per consumer group and topic',
  labelNames: ['consumer', 'topic'],
  registers: [register],
});

const backlogSources = new Map<string, () => Promise<number>>();

export const outboxBacklog = new Gauge({
  name: 'carerelay_outbox_backlog',
  help: 'Outbox rows not yet published, per service schema',
  labelNames: ['schema'],
  registers: [register],
  async collect() {
    this.reset();
    for (const [schema, backlog] of backlogSources) {
      this.set({ schema }, await backlog().catch(() => -1));
    }
  },
});

export function trackOutboxBacklog(schema: string, backlog: () => Promise<number>): () => void {
  backlogSources.set(schema, backlog);
  return () => {
    if (backlogSources.get(schema) === backlog) backlogSources.delete(schema);
  };
}
