export * from './test-infra';
export * from './test-tokens';
export * from './use-test-tokens';
