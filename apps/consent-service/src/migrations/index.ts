import { MigrationInterface } from 'typeorm';
import { MessagingTables1732300000000 } from '@carerelay/messaging';
import { Consents1732300000200 } from './1732300000200-consents';

export const CONSENT_MIGRATIONS: Array<new () => MigrationInterface> = [
  MessagingTables1732300000000,
  Consents1732300000200,
];
