import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { CredentialsUnavailable, type CredentialsCipher } from '../registry/credentials-cipher';

export type PayloadContent = 'id-only' | 'full-resource';

/** A Subscription CareRelay holds on an EHR, as answered to operators: never its secret. */
export interface EhrSubscriptionState {
  endpointId: string;
  content: PayloadContent;
  /** The Subscription's id on the EHR, when CareRelay created it there. */
  ehrSubscriptionId?: string;
  /** The subscription the EHR's notifications name (the last one seen). */
  subscriptionReference?: string;
  lastEventNumber: number;
  notifications: number;
  gaps: number;
  missedEvents: number;
  lastNotificationAt?: string;
  lastGapAt?: string;
  createdAt: string;
}

interface Row {
  endpoint_id: string;
  content: PayloadContent;
  ehr_subscription_id: string | null;
  subscription_reference: string | null;
  last_event_number: string;
  notifications: string;
  gaps: number;
  missed_events: string;
  last_notification_at: Date | null;
  last_gap_at: Date | null;
  created_at: Date;
}

const stateOf = (row: Row): EhrSubscriptionState => ({
  endpointId: row.endpoint_id,
  content: row.content,
  ehrSubscriptionId: row.ehr_subscription_id ?? undefined,
  subscriptionReference: row.subscription_reference ?? undefined,
  lastEventNumber: Number(row.last_event_number),
  notifications: Number(row.notifications),
  gaps: row.gaps,
  missedEvents: Number(row.missed_events),
  lastNotificationAt: row.last_notification_at?.toISOString(),
  lastGapAt: row.last_gap_at?.toISOString(),
  createdAt: row.created_at.toISOString(),
});

/** The cipher's additional data: a subscription secret never opens as a private key, nor back. */
const aadOf = (endpointId: string): string => `subscription:${endpointId}`;

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** What a notification changes once applied (in the transaction that holds the row). */
export interface NotificationApplied {
  subscriptionReference: string;
  lastEventNumber: number;
  missedEvents: number;
}

/**
 * ehr_subscriptions: the per-endpoint secret of the rest-hook channel (encrypted with the
 * registry's CredentialsCipher, EHR_CREDENTIALS_KEY) and the event-number progress.
 */
export class EhrSubscriptionRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly schema: string,
    private readonly cipher?: CredentialsCipher,
  ) {}

  private get t(): string {
    return `"${this.schema}".ehr_subscriptions`;
  }

  /**
   * Generates the endpoint's channel secret (replacing any earlier one: notifications with the old
   * secret are refused from now on) and returns it: the only time it is shown.
   */
  async setUp(endpointId: string, content: PayloadContent): Promise<string> {
    if (!this.cipher) throw new CredentialsUnavailable();
    const secret = randomBytes(32).toString('base64url');
    const { keyId, ciphertext } = this.cipher.encrypt(aadOf(endpointId), secret);
    await this.dataSource.query(
      `INSERT INTO ${this.t} (endpoint_id, key_id, secret_ciphertext, content) VALUES ($1, $2, $3, $4)
       ON CONFLICT (endpoint_id) DO UPDATE SET key_id = EXCLUDED.key_id,
         secret_ciphertext = EXCLUDED.secret_ciphertext, content = EXCLUDED.content,
         ehr_subscription_id = NULL, subscription_reference = NULL, last_event_number = 0,
         updated_at = now()`,
      [endpointId, keyId, ciphertext, content],
    );
    return secret;
  }

  async recordEhrSubscriptionId(endpointId: string, id: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE ${this.t} SET ehr_subscription_id = $2, updated_at = now() WHERE endpoint_id = $1`,
      [endpointId, id],
    );
  }

  /**
   * Whether `given` is the endpoint's channel secret. Compared as SHA-256 digests with
   * timingSafeEqual (equal lengths whatever was sent); no subscription, no key: false.
   */
  async verifySecret(endpointId: string, given: string): Promise<boolean> {
    const [row] = (await this.dataSource.query(
      `SELECT key_id, secret_ciphertext FROM ${this.t} WHERE endpoint_id = $1`,
      [endpointId],
    )) as { key_id: string; secret_ciphertext: string }[];
    if (!row || !this.cipher) return false;
    let secret: string;
    try {
      secret = this.cipher.decrypt(aadOf(endpointId), row.key_id, row.secret_ciphertext);
    } catch (error) {
      if (error instanceof CredentialsUnavailable) return false;
      throw error;
    }
    return timingSafeEqual(digest(given), digest(secret));
  }

  async get(endpointId: string): Promise<EhrSubscriptionState | undefined> {
    const [row] = (await this.dataSource.query(`SELECT * FROM ${this.t} WHERE endpoint_id = $1`, [
      endpointId,
    ])) as Row[];
    return row ? stateOf(row) : undefined;
  }

  /**
   * Runs `work` holding the endpoint's subscription row (one notification of an endpoint at a
   * time, so that event numbers are compared with what the previous one left), then records
   * what it applied in the same transaction; an error leaves the progress as it was.
   */
  async withProgress<T>(
    endpointId: string,
    work: (
      state: EhrSubscriptionState,
    ) => Promise<{ result: T; applied?: NotificationApplied; gap: boolean }>,
  ): Promise<T> {
    return this.dataSource.transaction(async (manager: EntityManager) => {
      const [row] = (await manager.query(
        `SELECT * FROM ${this.t} WHERE endpoint_id = $1 FOR UPDATE`,
        [endpointId],
      )) as Row[];
      if (!row) throw new Error('no subscription for this endpoint');
      const { result, applied, gap } = await work(stateOf(row));
      await manager.query(
        `UPDATE ${this.t} SET notifications = notifications + 1, last_notification_at = now(),
           subscription_reference = COALESCE($2, subscription_reference),
           last_event_number = COALESCE($3, last_event_number),
           missed_events = missed_events + $4, gaps = gaps + $5,
           last_gap_at = CASE WHEN $5 > 0 THEN now() ELSE last_gap_at END
         WHERE endpoint_id = $1`,
        [
          endpointId,
          applied?.subscriptionReference ?? null,
          applied?.lastEventNumber ?? null,
          applied?.missedEvents ?? 0,
          gap ? 1 : 0,
        ],
      );
      return result;
    });
  }
}
