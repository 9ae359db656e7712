export { SkbError, isSkbError, describeIssues, parseOrThrow, messageOf, type ErrorCode } from './errors.js';
export { canonicalJson, sha256Hex } from './canonical.js';
export {
  OperationSchema,
  OperationKindSchema,
  DtypeSchema,
  KNOWN_KINDS,
  OPERATION_KEY_VERSION,
  parseOperation,
  structureKey,
  shapeKey,
  exactOperationKey,
  isEpilogueArgumentAttr,
  flopCount,
  minimumBytes,
  dtypeBytes,
  conv2dOutputSize,
  parseShapeSpec,
  type Operation,
  type OperationInput,
} from './operation.js';
export {
  FingerprintSchema,
  CpuFingerprintSchema,
  GpuFingerprintSchema,
  TargetRecordSchema,
  targetFamily,
  targetKey,
  makeTargetRecord,
  type Fingerprint,
  type CpuFingerprint,
  type GpuFingerprint,
  type TargetRecord,
  toolchainVersionsOf,
} from './target-record.js';
export {
  StepSchema,
  NegativeStepSchema,
  ProvenanceSchema,
  ScheduleContentSchema,
  MeasurementSchema,
  MAX_MEASUREMENTS,
  ReuseSchema,
  ReuseTierSchema,
  INVENTED_OPTION_ID,
  OPTION_ID_PATTERN,
  REPLAY_OPTION_ID,
  DerivationSchema,
  CorrectnessEvidenceSchema,
  EvidenceSchema,
  ToolchainVersionsSchema,
  scheduleContentHash,
  speedupOf,
  toSchedule,
  type Step,
  type NegativeStep,
  type Measurement,
  type ScheduleContent,
  type ScheduleContentInput,
  type Schedule,
  type Reuse,
  type ReuseTier,
  type Derivation,
  type CorrectnessEvidence,
  type Evidence,
  type ToolchainVersions,
} from './schedule.js';
export {
  flattenBatch,
  flattenReplays,
  holdsReplaySteps,
  replayedSeedId,
  stepsFromReplayText,
  type FlatSeed,
  type SeedLookup,
  type ScheduleAlias,
} from './flatten-replays.js';
export {
  type CostModelPick,
  splitHereNote,
  withCostModelNote,
  withHereNote,
  withoutCostModelNote,
} from './plan-notes.js';
export type {
  Store,
  ScheduleFilter,
  PageRequest,
  Page,
  OperationSummary,
  EmbeddingRow,
  EmbeddingSpace,
  TargetSourceCount,
  SeedPackRecord,
  InsertResult,
  ReuseStats,
  MeasuredPointsQuery,
} from './store.js';
export { knobsOf, measuredPointsOf, type MeasuredPoint } from './measured-point.js';
export {
  baselineKey,
  MeasuredBaselineSchema,
  type BaselineIdentity,
  type MeasuredBaseline,
} from './measured-baseline.js';
export { extractSchedule, type ExtractScheduleInput } from './extract-schedule.js';
export { bestLineage, derivationsOf, isMeasured, lineageOf, lineageStepOf, seedOfCandidate } from './lineage.js';
export { createLibsqlStore, validateTargetRecord, type LibsqlStore, type LibsqlStoreOptions } from './libsql/index.js';
export { MIGRATIONS, migrate, type Migration } from './migrations.js';
export { compareByCreation, creationSortKey } from './ordering.js';
export {
  exportJsonl,
  parseJsonl,
  pruneBest,
  ExportHeaderSchema,
  EXPORT_FORMAT,
  EXPORT_VERSION,
  EXPORTER,
  type ExportHeader,
  type ParsedExport,
  type ImportLineError,
} from './jsonl.js';
export {
  SearchConfigSchema,
  SearchStatusSchema,
  LineageStepSchema,
  SearchSeedSchema,
  WarmStartConfigSchema,
  type LineageStep,
  type SearchSeed,
  type WarmStartConfig,
  type SearchConfig,
  type SearchConfigInput,
  type SearchStatus,
  type SearchRecord,
  type ProgressEvent,
  type SearchPatch,
  type SearchStore,
  newSearchRecord,
} from './search.js';
export { TASK_NEEDS_OPERATION, TaskSchema, type Task, type TaskInput } from './task.js';
export { type CandidateRecord, tallyFailedSamples } from './candidate.js';
export {
  DEFAULT_SLOWER_BY_PCT,
  RevalidationSchema,
  RevalidationStatusSchema,
  revalidationStatus,
  type Revalidation,
  type RevalidationStatus,
} from './revalidation.js';
