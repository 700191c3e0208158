// Live summary from referral.events.v1, and the consumer-group reset of test networks on a shared
// broker. kafkajs is imported lazily, after ensureDependencies.
import { sleep } from '../common.mjs';

const SUMMARY_STATES = [
  'requested',
  'awaiting-consent',
  'routed',
  'accepted',
  'rejected',
  'rerouted',
  'in-progress',
  'on-hold',
  'completed',
  'cancelled',
  'failed',
];

/** Counts referrals by the states they reached, from referral.events.v1 (a throwaway group). */
export async function startSummary({ brokers, log }) {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const kafka = new Kafka({
    clientId: 'carerelay-summary',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
  const groupId = `carerelay-summary-${process.pid}-${Date.now().toString(36)}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000 });
  const reached = new Map(); // referral id -> bit set of states
  const counts = Object.fromEntries(SUMMARY_STATES.map((s) => [s, 0]));
  const byId = new Map(); // referral id -> last state (for tests)
  const listeners = new Set();
  await consumer.connect();
  const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
  await consumer.subscribe({ topic: 'referral.events.v1', fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      try {
        const data = JSON.parse(message.value.toString());
        const bit = 1 << SUMMARY_STATES.indexOf(data.state);
        if (bit <= 0) return;
        const seen = reached.get(data.referralId) ?? 0;
        if (!(seen & bit)) counts[data.state] += 1;
        reached.set(data.referralId, seen | bit);
        byId.set(data.referralId, data);
        for (const listener of listeners) listener(data);
      } catch {
        // not ours to judge: the services validate their events
      }
    },
  });
  await Promise.race([joined, sleep(15_000)]);
  return {
    counts,
    lastEvent: (referralId) => byId.get(referralId),
    onEvent: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      await consumer.disconnect().catch(() => undefined);
      const admin = kafka.admin();
      await admin
        .connect()
        .then(() => admin.deleteGroups([groupId]))
        .catch(() => undefined)
        .finally(() => admin.disconnect().catch(() => undefined));
      log?.('summary consumer stopped');
    },
  };
}

export function summaryLine(counts, sim) {
  const sent = sim?.sent ?? counts.requested;
  const closed = counts.completed;
  const base = Math.max(counts.requested, 1);
  const rate = counts.requested ? `${Math.round((100 * closed) / base)}%` : '-';
  const parts = [
    `sent ${sent}`,
    `routed ${counts.routed}`,
    `accepted ${counts.accepted}`,
    `rejected ${counts.rejected}`,
    `closed ${closed}`,
    `closure rate ${rate}`,
  ];
  if (counts['awaiting-consent']) parts.push(`awaiting consent ${counts['awaiting-consent']}`);
  if (counts['on-hold'] || counts.failed)
    parts.push(`on-hold ${counts['on-hold']}, failed ${counts.failed}`);
  if (sim?.failed) parts.push(`send errors ${sim.failed}`);
  return parts.join(' | ');
}

// ---------------------------------------------------------------------------------------------
// Test networks on a shared broker

/** The services' standing consumer groups and the catalog topics they read. */
const SERVICE_GROUPS = [
  'referral-service',
  'consent-service',
  'followup-service',
  'analytics-service',
  'directory-service-fhir',
  'ehr-connector',
  'fhir-api-subscriptions',
];
const CATALOG_TOPICS = [
  'fhir.changes.v1',
  'referral.events.v1',
  'consent.events.v1',
  'followup.events.v1',
  'directory.events.v1',
];

/**
 * For a test network on a broker that other runs have used: moves every service group's position
 * to the end of each catalog topic before the services start, so they do not first work through
 * what earlier runs published (thousands of events, each of another run's schema). Production
 * never does this: a new deployment reads its topics from the beginning.
 */
export async function skipConsumerBacklog(brokers) {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const admin = new Kafka({
    clientId: 'carerelay-test-network',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  let skipped = 0;
  try {
    const existing = new Set(await admin.listTopics());
    for (const topic of CATALOG_TOPICS.filter((t) => existing.has(t))) {
      const ends = await admin.fetchTopicOffsets(topic);
      for (const groupId of SERVICE_GROUPS) {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const end of ends) {
          const at = Number(
            committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1,
          );
          skipped += Math.max(0, Number(end.high) - Math.max(at, Number(end.low)));
        }
        // A group with live members (another network still running) keeps its position.
        await admin
          .setOffsets({
            groupId,
            topic,
            partitions: ends.map((end) => ({ partition: end.partition, offset: end.high })),
          })
          .catch(() => undefined);
      }
    }
  } finally {
    await admin.disconnect();
  }
  return skipped;
}
