export * from './backport';
export * from './subscriptions.module';
