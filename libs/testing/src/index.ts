export * from './test-infra';
export * from './test-tokens';
