export * from './load-config';
export * from './common.config';
export * from './running-network';
export * from './cli-main';
