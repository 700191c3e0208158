import { EventRegistry, type EventTypeDefinition } from '@carerelay/contracts';
import { uniqueName } from '@carerelay/testing';

/** The payload of the messaging tests' own event type. */
export interface TestThing {
  thingId: string;
  n: number;
}

/**
 * A test-only event type on a topic of its own (a unique name per run, so runs never see each
 * other's messages), with a registry that knows only it.
 */
export function testEventType(topicPrefix: string, type: string) {
  const topic = uniqueName(topicPrefix).replace(/_/g, '-');
  const definition: EventTypeDefinition<TestThing> = {
    type,
    topic,
    version: 1,
    keyOf: (data) => data.thingId,
    schema: {
      type: 'object',
      required: ['thingId', 'n'],
      additionalProperties: false,
      properties: { thingId: { type: 'string', minLength: 1 }, n: { type: 'integer' } },
    },
  };
  return { topic, definition, registry: new EventRegistry([definition as EventTypeDefinition]) };
}
