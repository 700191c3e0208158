import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { WEB_CONFIG, WebConfig } from '../web.config';
import { AccountsService } from './accounts.service';
import { DEMO_PASSWORD, demoPeople } from './demo-people';

/** WEB_SEED_DEMO=true (npm start): the demo people, created once (an existing one is kept). */
@Injectable()
export class DemoSeed implements OnApplicationBootstrap {
  private readonly logger = new Logger('DemoSeed');

  constructor(
    private readonly accounts: AccountsService,
    @Inject(WEB_CONFIG) private readonly config: WebConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.WEB_SEED_DEMO) return;
    let created = 0;
    for (const person of demoPeople()) {
      const result = await this.accounts.ensureUser({
        ...person,
        language: 'en',
        password: DEMO_PASSWORD,
      });
      if (result.created) created += 1;
    }
    this.logger.log(`demo people: ${created} created, ${demoPeople().length - created} kept`);
  }
}
