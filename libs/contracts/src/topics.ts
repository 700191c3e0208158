/**
 * The topic catalog. Topics are created by the project's code at start (see TopicProvisioner in
 * libs/messaging) with these partition counts; the broker never auto-creates them.
 */
export interface TopicDefinition {
  readonly name: string;
  readonly partitions: number;
  /** What the record key is, so that events that must stay ordered share a partition. */
  readonly keyedBy: string;
  readonly retentionMs?: number;
}

const week = 7 * 24 * 3600 * 1000;

export const TOPICS = {
  fhirChanges: { name: 'fhir.changes.v1', partitions: 6, keyedBy: 'resource type/id' },
  referralEvents: { name: 'referral.events.v1', partitions: 6, keyedBy: 'referral id' },
  consentEvents: { name: 'consent.events.v1', partitions: 3, keyedBy: 'patient id' },
  followupEvents: { name: 'followup.events.v1', partitions: 3, keyedBy: 'referral id' },
  directoryEvents: { name: 'directory.events.v1', partitions: 3, keyedBy: 'organization id' },
  // Only tokens still unexpired (≤ 300 s) need the news: a day is ample.
  authClients: {
    name: 'auth.clients.v1',
    partitions: 3,
    keyedBy: 'client id',
    retentionMs: 24 * 3600 * 1000,
  },
} as const satisfies Record<string, TopicDefinition>;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS]['name'];

export const dlqTopicOf = (topic: string): string => `${topic}.dlq`;

/** Every topic with its dead-letter twin (same partition count, longer retention). */
export function allTopicDefinitions(): TopicDefinition[] {
  return Object.values(TOPICS).flatMap((topic) => [
    topic,
    { ...topic, name: dlqTopicOf(topic.name), keyedBy: topic.keyedBy, retentionMs: 4 * week },
  ]);
}
