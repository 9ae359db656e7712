import { listTargets, type ListedTarget } from '../target-listing.js';
import { SkbError, type TargetRecord } from '../../schedules/index.js';
import type { KnowledgeBase } from '../../search/index.js';
import type { SearchDetail, SearchService } from '../../search/index.js';
import type { MemberState } from '../../targets/index.js';
import type { HealthReport } from '../health.js';

/** Whether this request may run mutations, and if not, the sentence that says how to get access. */
export interface WriteAccess {
  canWrite: boolean;
  reason: string;
}

/** What every resolver gets: the services, the caller's access, and per-request caches. */
export interface ApiContext {
  kb: KnowledgeBase;
  access: WriteAccess;
  health: () => Promise<HealthReport>;
  /** Loads a target once per request: a page of schedules usually shares a handful of targets. */
  loadTarget: (key: string) => Promise<TargetRecord | null>;
  /** A target key, or the name of a target configured on this service, to its key. */
  resolveTarget: (ref: string) => string;
  /** The search service; absent when the app serves the knowledge base only (search fields then fail with CONFIG). */
  search: () => SearchService;
  /** Ids of the targets of the targets file: where searches may run. */
  targetIds: readonly string[];
  /** Every stored target with its display name, configuration and counts, by key; once per request. */
  loadListedTargets: () => Promise<Map<string, ListedTarget>>;
  /** Loads a search with its candidates once per request: several fields of one Search need the tree. */
  loadSearch: (id: string) => Promise<SearchDetail | null>;
  /** The members of each configured target's pool with their state now, by target id. */
  memberStates: () => ReadonlyMap<string, readonly MemberState[]>;
}

const TARGET_KEY = /^t-[0-9a-f]{16}$/;

/** Whether a target reference is a key (t-…) rather than a configured name. */
export function isTargetKey(ref: string): boolean {
  return TARGET_KEY.test(ref);
}

/**
 * Resolves a target reference: a target key as it is, or the name of a target configured on this
 * service ("local") to its key; anything else is BAD_INPUT listing what would do.
 */
export function createTargetResolver(names: ReadonlyMap<string, string>): (ref: string) => string {
  return (ref) => {
    if (isTargetKey(ref)) return ref;
    const key = names.get(ref);
    if (key) return key;
    const known = [...names.keys()];
    throw new SkbError(
      'BAD_INPUT',
      `Unknown target "${ref}": give a target key such as t-0123456789abcdef (see the targets query)${known.length ? ` or one of the configured names: ${known.join(', ')}` : ''}`,
    );
  };
}

/** Builds the per-request context. */
export function createApiContext(deps: {
  kb: KnowledgeBase;
  access: WriteAccess;
  health: () => Promise<HealthReport>;
  targetNames?: ReadonlyMap<string, string>;
  search?: SearchService;
  targetIds?: readonly string[];
  memberStates?: () => ReadonlyMap<string, readonly MemberState[]>;
}): ApiContext {
  const targets = new Map<string, Promise<TargetRecord | null>>();
  const searches = new Map<string, Promise<SearchDetail | null>>();
  let listed: Promise<Map<string, ListedTarget>> | undefined;
  const search = (): SearchService => {
    if (!deps.search)
      throw new SkbError(
        'CONFIG',
        'This service was started without a search service: start it with `skb serve` to run searches.',
      );
    return deps.search;
  };
  return {
    kb: deps.kb,
    access: deps.access,
    health: deps.health,
    search,
    targetIds: deps.targetIds ?? [],
    memberStates: deps.memberStates ?? (() => new Map()),
    loadListedTargets() {
      listed ??= Promise.all([deps.kb.listTargets(), deps.kb.targetSourceCounts()]).then(
        ([records, counts]) =>
          new Map(listTargets(records, counts, deps.targetNames ?? new Map()).map((t) => [t.key, t])),
      );
      return listed;
    },
    loadSearch(id) {
      let pending = searches.get(id);
      if (!pending) {
        pending = search().get(id);
        searches.set(id, pending);
      }
      return pending;
    },
    resolveTarget: createTargetResolver(deps.targetNames ?? new Map<string, string>()),
    loadTarget(key) {
      let pending = targets.get(key);
      if (!pending) {
        pending = deps.kb.getTarget(key);
        targets.set(key, pending);
      }
      return pending;
    },
  };
}
