import { speedupOf, type CandidateRecord, type Page, type SearchRecord } from '../../schedules/index.js';
import type { SearchDetail } from '../../search/index.js';
import { describeOperation, formatMs, formatSpeedup } from '../cli/search-report.js';
import { BestAgainstSamples } from './charts.js';
import { Layout, ReuseTable } from './layout.js';

const LIVE = new Set(['queued', 'running']);

function Status(props: { status: string }) {
  return <span class={`status-${props.status}`}>{props.status}</span>;
}

export function SearchesPage(props: { page: Page<SearchRecord> }) {
  return (
    <Layout title="Searches">
      <h1>Searches</h1>
      <p>
        {props.page.totalCount} search{props.page.totalCount === 1 ? '' : 'es'} · <a href="/searches/new">start one</a>
      </p>
      <table>
        <thead>
          <tr>
            <th>search</th>
            <th>status</th>
            <th>operation</th>
            <th>target</th>
            <th class="num">samples</th>
            <th class="num">speedup</th>
            <th>started</th>
          </tr>
        </thead>
        <tbody>
          {props.page.items.map((s) => (
            <tr>
              <td>
                <a href={`/searches/${s.id}`}>{s.id}</a>
              </td>
              <td>
                <Status status={s.status} />
              </td>
              <td>{describeOperation(s.task.operation)}</td>
              <td>{s.task.target}</td>
              <td class="num">
                {s.samplesUsed} / {s.config.budget}
              </td>
              <td class="num">{formatSpeedup(speedupOf(s))}</td>
              <td>{s.createdAt}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}

/**
 * Best latency so far after each sample (the baseline is sample 0), over the candidates the search
 * could count: correct and not suspect, as the search's own best.
 */
function convergence(candidates: readonly CandidateRecord[]): Array<{ sample: number; bestMs: number }> {
  let best = Number.POSITIVE_INFINITY;
  const points: Array<{ sample: number; bestMs: number }> = [];
  for (const c of [...candidates].sort((a, b) => a.sample - b.sample)) {
    if (c.correct && !c.suspect && c.latencyMs != null && c.latencyMs > 0 && c.latencyMs < best) best = c.latencyMs;
    if (Number.isFinite(best)) points.push({ sample: c.sample, bestMs: best });
  }
  return points;
}

/** The candidate tree, parent -> child: each node's plan, and its latency or why it failed. */
function Tree(props: { candidates: readonly CandidateRecord[]; bestId: string | null }) {
  const children = new Map<string | null, CandidateRecord[]>();
  for (const c of props.candidates) children.set(c.parentId, [...(children.get(c.parentId) ?? []), c]);
  const node = (c: CandidateRecord) => (
    <li>
      <span class={c.admitted ? 'admitted' : ''}>
        #{c.sample} {c.optionId ? <code>{c.optionId}</code> : 'baseline'}{' '}
        {c.correct && c.latencyMs != null ? (
          `${formatMs(c.latencyMs)} ms`
        ) : (
          <span class="error">{c.errorKind ?? 'incorrect'}</span>
        )}
        {c.suspect ? (
          <span class="error" title={c.suspect}>
            {' '}
            suspect
          </span>
        ) : null}
        {c.id === props.bestId ? ' ← best' : ''}
      </span>
      {c.plan ? <div class="muted">{c.plan}</div> : null}
      {children.get(c.id)?.length ? <ul>{children.get(c.id)!.map(node)}</ul> : null}
    </li>
  );
  return <ul class="tree">{(children.get(null) ?? []).map(node)}</ul>;
}

export function SearchPage(props: { detail: SearchDetail }) {
  const { search: s, candidates } = props.detail;
  const live = LIVE.has(s.status);
  return (
    <Layout title={`Search ${s.id}`} live={live}>
      <h1>Search {s.id}</h1>
      {live ? (
        <p class="live" data-live-search={s.id}>
          Live: this page follows the search as samples arrive.
        </p>
      ) : null}
      <dl class="facts">
        <dt>status</dt>
        <dd>
          <Status status={s.status} />
        </dd>
        <dt>operation</dt>
        <dd>{describeOperation(s.task.operation)}</dd>
        <dt>target</dt>
        <dd>
          {s.task.target}
          {s.targetKey ? (
            <>
              {' '}
              (<code>{s.targetKey}</code>)
            </>
          ) : null}
        </dd>
        <dt>planner</dt>
        <dd>{s.config.planner}</dd>
        <dt>samples</dt>
        <dd>
          {s.samplesUsed} of {s.config.budget} (iteration {s.iteration})
        </dd>
        <dt>baseline → best</dt>
        <dd>
          {formatMs(s.baselineLatencyMs)} → {formatMs(s.bestLatencyMs)} ms ({formatSpeedup(speedupOf(s))})
        </dd>
        {s.scheduleId ? (
          <>
            <dt>schedule</dt>
            <dd>
              <a href={`/schedules/${s.scheduleId}`}>{s.scheduleId}</a>
            </dd>
          </>
        ) : null}
        {s.message ? (
          <>
            <dt>note</dt>
            <dd>{s.message}</dd>
          </>
        ) : null}
        {s.error ? (
          <>
            <dt>error</dt>
            <dd class="error">{s.error}</dd>
          </>
        ) : null}
      </dl>

      <h2>Best latency against samples</h2>
      <BestAgainstSamples points={convergence(candidates)} budget={s.config.budget} />

      <h2>Seeds</h2>
      {s.seeds.length ? (
        <ReuseTable
          linkHeader="schedule"
          rows={s.seeds.map((seed) => ({
            ...seed,
            link: { href: `/schedules/${seed.scheduleId}`, text: seed.scheduleId },
          }))}
        />
      ) : (
        <p class="muted">
          {s.config.warmStart.enabled
            ? 'No stored schedule was similar enough to seed it.'
            : 'Cold: warm start was off.'}
        </p>
      )}

      <h2>Candidate tree ({candidates.length} candidates)</h2>
      <Tree candidates={candidates} bestId={s.bestCandidateId} />
    </Layout>
  );
}

/** The fields of the new-search form, kept as typed so a refused form comes back as it was. */
export interface NewSearchFields {
  kind: string;
  shape: string;
  target: string;
  budget: string;
  planner: string;
  cold: boolean;
}

export function NewSearchPage(props: { fields: NewSearchFields; targets: readonly string[]; error?: string }) {
  const f = props.fields;
  return (
    <Layout title="New search">
      <h1>Start a search</h1>
      <p class="muted">
        Runs code on the target, so it needs the API token (<code>skb token</code> prints it), as the startSearch
        mutation does.
      </p>
      {props.error ? <p class="error">{props.error}</p> : null}
      <form class="start" method="post" action="/searches">
        <label>
          operation kind
          <input name="kind" value={f.kind} required />
        </label>
        <label>
          shape
          <input name="shape" value={f.shape} placeholder="M=512,N=512,K=512" required />
        </label>
        <label>
          target
          <select name="target">
            {props.targets.map((t) => (
              <option value={t} selected={t === f.target}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label>
          budget
          <input name="budget" value={f.budget} />
        </label>
        <label>
          planner
          <select name="planner">
            {['template', 'llm'].map((p) => (
              <option value={p} selected={p === f.planner}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label>
          cold (no warm start)
          <input type="checkbox" name="cold" value="1" checked={f.cold} />
        </label>
        <label>
          API token
          <input type="password" name="token" autocomplete="off" required />
        </label>
        <button type="submit">Start</button>
      </form>
    </Layout>
  );
}
