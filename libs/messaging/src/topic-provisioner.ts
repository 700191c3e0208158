import { allTopicDefinitions, TopicDefinition } from '@carerelay/contracts';
import type { MessageBus } from './message-bus';

/** Creates every catalog topic (and its DLQ) with its partition count; never auto-create. */
export async function provisionTopics(
  bus: MessageBus,
  topics: TopicDefinition[] = allTopicDefinitions(),
): Promise<void> {
  await bus.ensureTopics(topics);
}
