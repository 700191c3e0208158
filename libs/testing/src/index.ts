export * from './test-infra';
export * from './service-process';
