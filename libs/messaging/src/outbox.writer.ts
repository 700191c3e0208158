import { EntityManager } from 'typeorm';
import {
  CloudEvent,
  EventRegistry,
  EventTypeDefinition,
  eventRegistry,
  newCloudEvent,
  toKafkaRecord,
} from '@carerelay/contracts';

export interface AppendOptions {
  subject?: string;
  traceparent?: string;
  /** Overrides the partition key the event type defines. */
  key?: string;
}

export const outboxChannel = (schema: string): string => `carerelay_outbox_${schema}`;

/**
 * Writes events into the service's outbox inside the caller's transaction: the event exists
 * exactly when the state change that it announces commits.
 */
export class OutboxWriter {
  constructor(
    private readonly schema: string,
    private readonly source: string,
    private readonly registry: EventRegistry = eventRegistry,
  ) {}

  async append<T>(
    manager: EntityManager,
    definition: EventTypeDefinition<T>,
    data: T,
    options: AppendOptions = {},
  ): Promise<CloudEvent<T>> {
    if (!manager.queryRunner?.isTransactionActive) {
      throw new Error('OutboxWriter.append must run inside the transaction of the state change');
    }
    this.registry.validate(definition.type, data);
    const event = newCloudEvent({
      source: this.source,
      type: definition.type,
      subject: options.subject,
      traceparent: options.traceparent,
      data,
    });
    const record = toKafkaRecord(event, options.key ?? definition.keyOf(data));
    // One round trip: the row, and a NOTIFY (delivered on commit only) that wakes the relay sooner
    // than its next poll. A data-modifying CTE always runs, whatever the outer SELECT reads.
    await manager.query(
      `WITH appended AS (
         INSERT INTO "${this.schema}".outbox (id, topic, key, type, headers, payload)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id)
       SELECT pg_notify($7, '') FROM appended`,
      [
        event.id,
        definition.topic,
        record.key,
        event.type,
        record.headers,
        JSON.stringify(data),
        outboxChannel(this.schema),
      ],
    );
    return event;
  }
}
