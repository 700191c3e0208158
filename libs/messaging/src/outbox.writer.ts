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

/** The outbox columns an event's `values` fill, in order. */
export const OUTBOX_INSERT_COLUMNS = 'id, topic, key, type, headers, payload';

export interface PreparedOutboxEvent<T> {
  event: CloudEvent<T>;
  values: readonly unknown[];
  /** The relay's NOTIFY channel. */
  channel: string;
}

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

  /**
   * Validates and builds an event for the caller's transaction without writing it: for a
   * repository that inserts the row (`values`, in `OUTBOX_INSERT_COLUMNS` order) and NOTIFYs
   * `channel` in a statement of its own making, to save a round trip. `append` writes it.
   */
  prepare<T>(
    manager: EntityManager,
    definition: EventTypeDefinition<T>,
    data: T,
    options: AppendOptions = {},
  ): PreparedOutboxEvent<T> {
    if (!manager.queryRunner?.isTransactionActive) {
      throw new Error('An outbox event must be written inside the transaction of the state change');
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
    return {
      event,
      values: [
        event.id,
        definition.topic,
        record.key,
        event.type,
        record.headers,
        JSON.stringify(data),
      ],
      channel: outboxChannel(this.schema),
    };
  }

  async append<T>(
    manager: EntityManager,
    definition: EventTypeDefinition<T>,
    data: T,
    options: AppendOptions = {},
  ): Promise<CloudEvent<T>> {
    const { event, values, channel } = this.prepare(manager, definition, data, options);
    // One round trip: the row, and a NOTIFY (delivered on commit only) that wakes the relay sooner
    // than its next poll. A data-modifying CTE always runs, whatever the outer SELECT reads.
    await manager.query(
      `WITH appended AS (
         INSERT INTO "${this.schema}".outbox (${OUTBOX_INSERT_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id)
       SELECT pg_notify($7, '') FROM appended`,
      [...values, channel],
    );
    return event;
  }
}
