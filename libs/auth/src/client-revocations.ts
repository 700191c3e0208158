import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import {
  EventTypes,
  TOPICS,
  fromKafkaRecord,
  type ClientDisabledV1,
  type CloudEvent,
} from '@carerelay/contracts';
import { MESSAGE_BUS, type MessageBus, type Subscription } from '@carerelay/messaging';

/** The FHIR API's clock and the database's may differ a little; tokens issued just after count. */
const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * The clients disabled since the oldest token that can still be valid: a token of such a client
 * issued before (or at) its disabling is refused. A token issued later can only exist once the
 * client is active again, so it is not.
 */
export class ClientRevocations {
  private readonly disabledAt = new Map<string, number>();

  /** `at`: epoch milliseconds. The latest disabling counts. */
  record(clientId: string, at: number): void {
    if (!Number.isFinite(at)) return;
    this.disabledAt.set(clientId, Math.max(at, this.disabledAt.get(clientId) ?? at));
  }

  /** `issuedAt`: the token's iat (epoch seconds). */
  revokes(clientId: string, issuedAt: number): boolean {
    const at = this.disabledAt.get(clientId);
    return at !== undefined && issuedAt <= at / 1000 + CLOCK_TOLERANCE_SECONDS;
  }

  get size(): number {
    return this.disabledAt.size;
  }
}

/**
 * Keeps a process's ClientRevocations current from auth.clients.v1 (the FHIR API's outbox,
 * written when `clients:disable` disables a client). Every process reads every event, from the
 * topic's start (its retention, a day, outlasts any token): a group of its own per process,
 * not the service's shared one, whose members would each see a share of the partitions.
 */
@Injectable()
export class ClientRevocationFeed implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ClientRevocations');
  private subscription?: Subscription;
  private starting?: Promise<void>;

  constructor(
    private readonly revocations: ClientRevocations,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    private readonly serviceName: string,
  ) {}

  onApplicationBootstrap(): void {
    // Not awaited: joining a group takes seconds and the start must not wait for it.
    this.starting = this.start().catch((error: unknown) => {
      this.logger.error(`client revocations not followed: ${(error as Error).name}`);
    });
  }

  private async start(): Promise<void> {
    const groupId = `auth-revocations.${this.serviceName}.${hostname()}.${process.pid}.${randomUUID().slice(0, 8)}`;
    this.subscription = await this.bus.subscribe({
      groupId,
      topics: [TOPICS.authClients.name],
      fromBeginning: true,
      partitionsConsumedConcurrently: 1,
      handle: async (message) => {
        let event: CloudEvent;
        try {
          event = fromKafkaRecord(message);
        } catch {
          return; // not a CloudEvent: nothing to learn
        }
        if (event.type !== EventTypes.clientDisabled.type) return;
        const data = event.data as Partial<ClientDisabledV1> | undefined;
        if (typeof data?.clientId !== 'string' || typeof data.disabledAt !== 'string') return;
        this.revocations.record(data.clientId, Date.parse(data.disabledAt));
        this.logger.log(`client ${data.clientId} disabled: its tokens are refused`);
      },
    });
  }

  /** Resolves once the feed's consumer has joined its group (tests wait for it). */
  async ready(): Promise<void> {
    await this.starting;
    await this.subscription?.ready();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.starting;
    await this.subscription?.close().catch(() => undefined);
  }
}
