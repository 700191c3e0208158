import 'reflect-metadata';
import { processIo } from '@carerelay/config';
import { runAnalyticsCli, USAGE } from './analytics.commands';

export { USAGE };

/** `npm run cli -- analytics:rebuild`: the analytics read model rebuilt from the topics. */
export const main = (argv: string[], io = processIo): Promise<number> => runAnalyticsCli(argv, io);
