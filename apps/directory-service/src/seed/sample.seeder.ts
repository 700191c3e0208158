import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SAMPLE_DIRECTORY_SEED, generateSampleDirectory } from '@carerelay/directory';
import { DirectoryService } from '../directory/directory.service';
import { DirectoryStore } from '../directory/directory.store';

export const SEED_SAMPLE = Symbol('DIRECTORY_SEED_SAMPLE');

const SEEDED_KEY = 'sample-seeded';

/**
 * With DIRECTORY_SEED_SAMPLE=true: at start, an empty directory gets the sample directory
 * (`generateSampleDirectory({ seed: SAMPLE_DIRECTORY_SEED })`), stored and announced like an import. Once only: the
 * fact is recorded in the same transaction, and concurrent starts wait for one another.
 */
@Injectable()
export class SampleSeeder implements OnApplicationBootstrap {
  private readonly logger = new Logger('SampleSeeder');

  constructor(
    @Inject(SEED_SAMPLE) private readonly enabled: boolean,
    private readonly store: DirectoryStore,
    private readonly directory: DirectoryService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.enabled) await this.seed();
  }

  /** Seeds unless seeded before or not empty; says what it did. */
  async seed(): Promise<'seeded' | 'seeded-before' | 'not-empty'> {
    return this.store.dataSource.transaction(async (manager) => {
      await this.store.lockDirectory(manager);
      const before = await this.store.meta(manager, SEEDED_KEY);
      if (before) {
        this.logger.log(`sample directory seeded before (${JSON.stringify(before)}): not again`);
        return 'seeded-before';
      }
      if (!(await this.store.isEmpty(manager))) {
        this.logger.log('directory not empty: the sample directory is not seeded');
        return 'not-empty';
      }
      const sample = generateSampleDirectory({ seed: SAMPLE_DIRECTORY_SEED });
      const summary = await this.directory.writeDirectory(sample, { manager });
      await this.store.setMeta(manager, SEEDED_KEY, {
        seed: SAMPLE_DIRECTORY_SEED,
        at: new Date().toISOString(),
        organizations: sample.organizations.length,
        locations: sample.locations.length,
        services: sample.services.length,
      });
      this.logger.log(
        `sample directory seeded: ${sample.organizations.length} organizations, ` +
          `${sample.locations.length} locations, ${sample.services.length} services, ${summary.events} events`,
      );
      return 'seeded';
    });
  }
}
