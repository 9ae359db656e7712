/**
 * The search layer: the knowledge-base service (retrieval over the store and the ANN index), the
 * search service (budgeted beam searches run as jobs), the planners and their menus, and warm start.
 * Other layers import from here, never from the files behind it.
 */
export { runBeamSearch } from './beam-search.js';
export { EXPORT_FORMATS } from './knowledge-base.js';
export type {
  ExportFormat,
  ExportRequest,
  ImportReport,
  KnowledgeBase,
  RetrievalMatch,
  SimilarQuery,
} from './knowledge-base.js';
export { openKnowledgeBase } from './libsql-knowledge-base.js';
export type { OpenedKnowledgeBase } from './libsql-knowledge-base.js';
export { createLlmPlanner } from './llm-planner.js';
export { menuFor } from './menus/index.js';
export { plannerSupport } from './planner-support.js';
export type { Planner } from './planner.js';
export { createSearchService, DEFAULT_SEARCH_LEASE_MS } from './search-service.js';
export type { SearchDetail, SearchService, SearchServiceDeps, TaskRequest } from './search-service.js';
export { describeSeedPacks, importSeedPacks, PACKAGE_SEED_PACKS, type SeedPackResult } from './seed-packs.js';
export { createTemplatePlanner } from './template-planner.js';
export { MAX_WALK_DEPTH, walkRelatives, type ScheduleRelative } from './schedule-relatives.js';
export { revalidateSchedules, type RevalidateOptions } from './revalidate.js';
