/**
 * The composition root: builds the services `skb serve`, `skb optimize` and the tests share from
 * the configuration: the knowledge base, this machine's targets, the planners and the search
 * service. Nothing else constructs them, so the service and the CLI run searches the same way.
 */
import {
  CpuFingerprintSchema,
  GpuFingerprintSchema,
  SkbError,
  messageOf,
  type SearchConfigInput,
  type SearchRecord,
} from '../schedules/index.js';
import type { KnowledgeBase } from '../search/index.js';
import { createSearchService } from '../search/index.js';
import { importSeedPacks } from '../search/index.js';
import { menuFor } from '../search/index.js';
import { plannerSupport } from '../search/index.js';
import type { SearchService, TaskRequest } from '../search/index.js';
import {
  createSshHostRegistry,
  createTargetPool,
  sshSessionLimits,
  type CTemplateOptions,
  type MemberState,
  type TargetPool,
} from '../targets/index.js';
import { findTarget, loadTargets, type TargetsFile } from '../targets/index.js';
import type { Config } from './config.js';
import { registerLocalTargets, type TargetNames } from './local-targets.js';
import type { Logger } from './logger.js';
import { openConfiguredKnowledgeBase } from './configured-knowledge-base.js';
import { createPlannerFactory, llmUnavailable, type TargetGpu } from './planners.js';

export interface Services {
  kb: KnowledgeBase;
  search: SearchService;
  /** Configured target names ("local") and the keys of their fingerprints. */
  targetNames: TargetNames;
  /** Ids of the targets of the targets file: where searches may run. */
  targetIds: readonly string[];
  /** The target (pool) of the targets file with this id (one per id for the life of the services); NOT_FOUND for another id. */
  target(id: string): TargetPool;
  /** The members of each configured target built so far, with their state, by target id. */
  memberStates(): Map<string, MemberState[]>;
  /** Stops the search service (running searches stay resumable) and its targets, then closes the knowledge base. */
  close(): Promise<void>;
}

/**
 * What only the configuration can decide about a search, settled before anything is stored:
 * whether its planner can run the operation on the target's toolchain (plannerSupport, the answer
 * the planners themselves give), and that the LLM planner has an endpoint; the LLM planner runs
 * with SKB_MODELS unless the search names its models (so the search record says which models it
 * used). Everything else is the search service's to validate.
 */
function withConfiguredPlanners(
  search: SearchService,
  deps: { config: Config; targets: TargetsFile; closeTargets: () => Promise<void> },
): SearchService {
  const refuse = (message: string) => Promise.reject(new SkbError('BAD_INPUT', message));
  return {
    start(task: TaskRequest, settings?: SearchConfigInput): Promise<SearchRecord> {
      // Anything but "llm" (the default, or a name the search service will refuse) is checked as the template planner.
      const planner = settings?.planner === 'llm' ? 'llm' : 'template';
      if (planner === 'llm') {
        const missing = llmUnavailable(deps.config);
        if (missing) return refuse(missing);
      }
      // An unknown target or an operation without a kind is the search service's to refuse, in its own words.
      const toolchain = deps.targets.targets.find((t) => t.id === task.target)?.toolchain.kind;
      const kind = (task.operation as { kind?: unknown } | undefined)?.kind;
      if (toolchain) {
        const support = plannerSupport(planner, toolchain, typeof kind === 'string' ? kind : undefined);
        if (!support.ok) return refuse(support.reason);
      }
      if (planner === 'llm' && !settings?.models?.length)
        return search.start(task, { ...settings, models: deps.config.models });
      return search.start(task, settings);
    },
    cancel: (id) => search.cancel(id),
    get: (id) => search.get(id),
    list: (filter, page) => search.list(filter, page),
    subscribe: (id, signal) => search.subscribe(id, signal),
    wait: (id) => search.wait(id),
    resumeInterrupted: () => search.resumeInterrupted(),
    async close() {
      await search.close();
      await deps.closeTargets();
    },
  };
}

/** Compute capabilities and SM counts of the GPU targets fingerprinted at start, so the Triton template sizes its tiles for them. */
async function gpusOfTargets(kb: KnowledgeBase, names: TargetNames): Promise<Map<string, TargetGpu>> {
  const byTarget = new Map<string, TargetGpu>();
  for (const [id, key] of names) {
    const fingerprint = GpuFingerprintSchema.safeParse((await kb.getTarget(key))?.fingerprint);
    if (fingerprint.success)
      byTarget.set(id, { computeCapability: fingerprint.data.computeCapability, smCount: fingerprint.data.smCount });
  }
  return byTarget;
}

/**
 * ISA flags and thread allowance of the targets fingerprinted at start, so template planners
 * generate code those CPUs run, on as many cores as each target lets a candidate use.
 */
async function cpusOfTargets(kb: KnowledgeBase, names: TargetNames): Promise<Map<string, CTemplateOptions>> {
  const byTarget = new Map<string, CTemplateOptions>();
  for (const [id, key] of names) {
    const fingerprint = CpuFingerprintSchema.safeParse((await kb.getTarget(key))?.fingerprint);
    if (fingerprint.success) byTarget.set(id, { isa: fingerprint.data.isa, threads: fingerprint.data.threads ?? 1 });
  }
  return byTarget;
}

/** Opens the configured services. The caller owns them and must `close()` them (or hand them to startServer, which does). */
export async function openServices(
  config: Config,
  options: { cwd: string; env: Record<string, string | undefined>; logger: Logger },
): Promise<Services> {
  const { cwd, env, logger } = options;
  const kb = await openConfiguredKnowledgeBase(config);
  try {
    // The seed packs, each version once per database: deleted seeds stay deleted.
    if (config.seedPacks) await importSeedPacks(kb, config.seedPacks, logger);
    const { targets } = await loadTargets({ file: config.targetsFile, cwd });
    const targetNames = await registerLocalTargets({ kb, targetsFile: config.targetsFile, cwd, logger });
    const cpus = await cpusOfTargets(kb, targetNames);
    // One pool per id for the life of the services: an SSH member keeps its connection between
    // searches, and every member naming a host counts against that host's channel limit.
    const built = new Map<string, TargetPool>();
    const sshHosts = createSshHostRegistry(sshSessionLimits(targets));
    const memberLeaseMs = config.searchLeaseMs;
    const targetById = (id: string): TargetPool => {
      let pool = built.get(id);
      if (!pool) {
        pool = createTargetPool(findTarget(targets, id), {
          env,
          sshHosts,
          // A remote target's name resolves once a search has fingerprinted one of its members.
          onFingerprint: (key) => {
            if (!targetNames.has(id)) targetNames.set(id, key);
          },
          // Replicas on this database share the members: one search per machine across all of them.
          claims: {
            claim: (member, owner) => kb.searches.claimMemberLease(member, owner, memberLeaseMs),
            release: (member, owner) => kb.searches.releaseMemberLease(member, owner),
            ttlMs: memberLeaseMs,
            onError: (error) => logger.warn(`Member lease work failed: ${messageOf(error)}`),
          },
        });
        built.set(id, pool);
      }
      return pool;
    };
    const search = createSearchService({
      searches: kb.searches,
      targets: targetById,
      planners: createPlannerFactory({
        config,
        cpu: { byTarget: cpus, local: cpus.get('local') ?? [...cpus.values()][0] ?? { isa: [] } },
        gpu: { byTarget: await gpusOfTargets(kb, targetNames) },
      }),
      menus: menuFor,
      knowledgeBase: kb,
      leaseMs: config.searchLeaseMs,
      onBackgroundError: (error) => logger.warn(`Search lease work failed: ${messageOf(error)}`),
      onResumed: (ids) =>
        logger.info(`resumed ${ids.length} search(es) whose replica stopped renewing its lease: ${ids.join(', ')}`),
    });
    const configured = withConfiguredPlanners(search, {
      config,
      targets,
      closeTargets: async () => {
        await Promise.all([...built.values()].map((t) => t.close()));
      },
    });
    return {
      kb,
      search: configured,
      targetNames,
      targetIds: targets.targets.map((t) => t.id),
      target: targetById,
      memberStates: () => new Map([...built].map(([id, pool]) => [id, pool.states()])),
      async close() {
        await configured.close();
        await kb.close();
      },
    };
  } catch (error) {
    await kb.close();
    throw error;
  }
}
