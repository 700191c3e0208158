import { ensureKafkaJars } from '../infra.mjs';
import { startKafkaBroker } from '../kafka.mjs';
import { portFree } from './processes.mjs';

/**
 * A Kafka broker of its own (infra/lib/kafka.mjs startKafkaBroker) from the cached jars of
 * .carerelay/kafka/libs, on `port` (controller on port + 1) with its data in `dir`, so that it
 * disturbs neither the shared broker nor its state file. `fresh` wipes the data first.
 */
export async function startPrivateKafka({ dir, port, fresh = false, log = () => undefined }) {
  if (!(await portFree(port)) || !(await portFree(port + 1))) {
    throw new Error(`port ${port} or ${port + 1} is taken: another private Kafka runs there?`);
  }
  await ensureKafkaJars({ log: { info: log, action: log, warn: log } });
  return startKafkaBroker({ dir, port, fresh, log });
}
