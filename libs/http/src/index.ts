export * from './safe-json';
export * from './problem-details';
export * from './json-body';
export * from './validation';
export * from './http-app';
export * from './rate-limit';
export * from './server-timeouts';
export * from './admission-gate';
