export * from './test-infra';
export * from './service-process';
export * from './test-tokens';
export * from './use-test-tokens';
export * from './tcp-proxy';
export * from './metrics';
export * from './referral-events';
