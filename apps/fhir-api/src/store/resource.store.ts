import { DataSource } from 'typeorm';
import { OutboxWriter } from '@carerelay/messaging';
import type { RequestActor } from '../request-actor';
import { type StoreOptions, StoreTransaction } from './store.transaction';

/** A database error that a fresh attempt of the whole transaction may not hit again. */
export function isRetryable(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  const code = e?.driverError?.code ?? e?.code;
  return code === '40001' || code === '40P01' || code === '23505';
}

/**
 * The versioned resource store. Every operation runs inside `run(actor, fn)`: one database
 * transaction (retried on serialization failures, deadlocks and unique-key races); every read
 * goes through visibilityFilter(actor); every write stores a new version, its history row, its
 * search index and its `fhir.changes.v1` event in that transaction.
 */
export class ResourceStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxWriter,
    private readonly options: StoreOptions,
  ) {}

  get schema(): string {
    return this.options.schema;
  }

  /**
   * A read-only interaction (read, search, history) outside any transaction: under READ COMMITTED
   * each statement reads its own snapshot either way, so BEGIN and COMMIT would buy nothing but
   * two round trips. A write attempted here fails (the outbox needs a transaction).
   */
  async read<T>(actor: RequestActor, fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    const tx = new StoreTransaction(this.dataSource.manager, actor, this.options, this.outbox);
    const result = await fn(tx);
    await tx.runDeferred();
    return result;
  }

  async run<T>(actor: RequestActor, fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        // READ COMMITTED: the pool's sessions default to it (poolSettingsOf).
        return await this.dataSource.transaction(async (manager) => {
          const tx = new StoreTransaction(manager, actor, this.options, this.outbox);
          const result = await fn(tx);
          await tx.runDeferred();
          return result;
        });
      } catch (error) {
        if (attempt >= this.options.attempts || !isRetryable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    }
  }
}
