import { Kafka, logLevel } from 'kafkajs';
import { DataSource } from 'typeorm';
import { brokersOf } from '@carerelay/config';
import { TOPICS } from '@carerelay/contracts';
import { dropSchema } from '@carerelay/persistence';
import { AnalyticsServiceConfig } from '../analytics-service.config';
import { startAnalyticsService } from '../bootstrap';

/** The topics the read model is fed from. */
export const ANALYTICS_TOPICS = [
  TOPICS.referralEvents.name,
  TOPICS.followupEvents.name,
  TOPICS.consentEvents.name,
  TOPICS.fhirChanges.name,
  TOPICS.directoryEvents.name,
];

export class RebuildRefused extends Error {
  override name = 'RebuildRefused';
}

export interface RebuildOptions {
  /** Side by side (default): a schema of its own and a throwaway group. */
  schema?: string;
  /** In place: the service's own schema and group; the service must be stopped. */
  inPlace?: boolean;
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface RebuildResult {
  schema: string;
  groupId: string;
  messages: number;
  referrals: number;
  referralEvents: number;
  patients: number;
  ms: number;
}

/**
 * Reads the topics from the start into fresh tables with the service's own handlers (so the
 * numbers are the live read model's), until every partition is read up to where it ended when
 * the rebuild began.
 */
export async function rebuildReadModel(
  config: AnalyticsServiceConfig,
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const schema = options.inPlace
    ? config.ANALYTICS_DB_SCHEMA
    : (options.schema ?? `${config.ANALYTICS_DB_SCHEMA}_rebuild`);
  if (!options.inPlace && schema === config.ANALYTICS_DB_SCHEMA)
    throw new RebuildRefused(
      `${schema} is the live schema: use --in-place with the service stopped`,
    );
  const groupId = options.inPlace
    ? config.ANALYTICS_CONSUMER_GROUP
    : `${config.ANALYTICS_CONSUMER_GROUP}-rebuild-${Date.now().toString(36)}`;
  const kafka = new Kafka({
    clientId: 'carerelay-analytics-rebuild',
    brokers: brokersOf(config),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (options.inPlace) {
      const [group] = (await admin.describeGroups([groupId])).groups;
      if (group && group.members.length > 0)
        throw new RebuildRefused(
          `consumer group ${groupId} is in use: stop analytics-service first`,
        );
      // Without committed offsets the group starts from the beginning of every topic.
      if (group && group.state !== 'Dead')
        await admin.deleteGroups([groupId]).catch(() => undefined);
    }
    const ends = new Map<string, number>();
    let messages = 0;
    for (const topic of ANALYTICS_TOPICS) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        ends.set(`${topic}:${p.partition}`, Number(p.high));
        messages += Number(p.high) - Number(p.low);
      }
    }
    log(`rebuilding ${schema} from ${messages} messages on ${ANALYTICS_TOPICS.join(', ')}`);
    await dropSchema(config.DATABASE_URL, schema);
    const app = await startAnalyticsService(config, { schema, groupId, port: 0 });
    try {
      const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
      for (;;) {
        const behind = await partitionsBehind(admin, groupId, ends);
        if (behind === 0) break;
        if (Date.now() > deadline) throw new Error(`timed out with ${behind} partitions behind`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const [counts] = await app.get(DataSource).query(
        `SELECT (SELECT count(*)::int FROM "${schema}".referral) AS referrals,
                (SELECT count(*)::int FROM "${schema}".referral_event) AS events,
                (SELECT count(*)::int FROM "${schema}".patient) AS patients`,
      );
      return {
        schema,
        groupId,
        messages,
        referrals: counts.referrals,
        referralEvents: counts.events,
        patients: counts.patients,
        ms: Date.now() - started,
      };
    } finally {
      await app.close();
      if (!options.inPlace) await admin.deleteGroups([groupId]).catch(() => undefined);
    }
  } finally {
    await admin.disconnect();
  }
}

async function partitionsBehind(
  admin: ReturnType<Kafka['admin']>,
  groupId: string,
  ends: Map<string, number>,
): Promise<number> {
  let behind = 0;
  for (const { topic, partitions } of await admin.fetchOffsets({
    groupId,
    topics: ANALYTICS_TOPICS,
  })) {
    for (const p of partitions) {
      const end = ends.get(`${topic}:${p.partition}`) ?? 0;
      if (end > 0 && Number(p.offset) < end) behind++;
    }
  }
  return behind;
}
