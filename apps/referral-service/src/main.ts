import 'reflect-metadata';
import { runServiceMain } from '@carerelay/service';
import { startReferralService } from './bootstrap';
import { ReferralServiceConfig } from './referral-service.config';

runServiceMain('referral-service', ReferralServiceConfig, (config) => startReferralService(config));
