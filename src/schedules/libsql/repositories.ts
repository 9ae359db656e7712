/** Every repository of the knowledge base's tables, over one executor. */
import { createBaselinesRepository, type BaselinesRepository } from './baselines-repository.js';
import type { SqlExecutor } from './connection.js';
import { createLeasesRepository, MEMBER_LEASES, type LeasesRepository } from './leases-repository.js';
import { createMarkersRepository, type MarkersRepository } from './markers-repository.js';
import { createReusesRepository, type ReusesRepository } from './reuses-repository.js';
import { createRevalidationsRepository, type RevalidationsRepository } from './revalidations-repository.js';
import { createSchedulesRepository, type SchedulesRepository } from './schedules-repository.js';
import { createSearchesRepository, type SearchesRepository } from './searches-repository.js';
import { createSeedPacksRepository, type SeedPacksRepository } from './seed-packs-repository.js';
import { createTargetsRepository, type TargetsRepository } from './targets-repository.js';

/**
 * The repositories of one executor. Over a write transaction they are one unit of work: whatever
 * a piece of work does through them commits together or not at all.
 */
export interface Repositories {
  targets: TargetsRepository;
  schedules: SchedulesRepository;
  reuses: ReusesRepository;
  markers: MarkersRepository;
  searches: SearchesRepository;
  baselines: BaselinesRepository;
  seedPacks: SeedPacksRepository;
  revalidations: RevalidationsRepository;
  leases: LeasesRepository;
  memberLeases: LeasesRepository;
}

export function createRepositories(db: SqlExecutor): Repositories {
  const targets = createTargetsRepository(db);
  const markers = createMarkersRepository(db);
  return {
    targets,
    markers,
    schedules: createSchedulesRepository(db, { targets, markers }),
    reuses: createReusesRepository(db, { markers }),
    searches: createSearchesRepository(db),
    baselines: createBaselinesRepository(db),
    seedPacks: createSeedPacksRepository(db),
    revalidations: createRevalidationsRepository(db),
    leases: createLeasesRepository(db),
    memberLeases: createLeasesRepository(db, MEMBER_LEASES),
  };
}
