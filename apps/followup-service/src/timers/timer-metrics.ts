import { Counter, Gauge } from 'prom-client';
import { metricsRegistry } from '@carerelay/observability';

type PendingSource = () => Promise<Array<{ kind: string; count: number }>>;
let pendingSource: PendingSource | undefined;

/** The pending timers gauge reads from the running poller's database (the last one started). */
export function reportPendingFrom(source: PendingSource | undefined): void {
  pendingSource = source;
}

export const pendingTimers = new Gauge({
  name: 'carerelay_followup_timers_pending',
  help: 'Follow-up timers neither fired nor cancelled',
  labelNames: ['kind'],
  registers: [metricsRegistry],
  async collect() {
    this.reset();
    if (!pendingSource) return;
    const rows = await pendingSource().catch(() => []);
    for (const kind of ['acceptance', 'reminder', 'closure']) {
      this.set({ kind }, rows.find((row) => row.kind === kind)?.count ?? 0);
    }
  },
});

export const firedTimers = new Counter({
  name: 'carerelay_followup_timers_fired_total',
  help: 'Follow-up timers fired (followup.due or followup.breached appended to the outbox)',
  labelNames: ['kind', 'stage'],
  registers: [metricsRegistry],
});
