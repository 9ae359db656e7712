import hljs from 'highlight.js/lib/core';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import python from 'highlight.js/lib/languages/python';
import { raw } from 'hono/html';
import type { Page, Reuse, Schedule } from '../../schedules/index.js';
import { describeOperation, formatMs, formatSpeedup } from '../cli/search-report.js';
import { LatencyWaterfall } from './charts.js';
import { Layout, ReuseTable } from './layout.js';

hljs.registerLanguage('c', c);
hljs.registerLanguage('cpp', cpp);
hljs.registerLanguage('python', python);

/** The filters of the schedules page, as the form holds them (text, so a bad value is shown back as typed). */
export interface ScheduleFilterFields {
  kind: string;
  target: string;
  dims: string;
  minSpeedup: string;
}

function query(fields: Record<string, string>): string {
  const params = new URLSearchParams(Object.entries(fields).filter(([, v]) => v !== ''));
  const text = params.toString();
  return text ? `?${text}` : '';
}

export function SchedulesPage(props: { fields: ScheduleFilterFields; page: Page<Schedule> | null; error?: string }) {
  const { fields, page } = props;
  return (
    <Layout title="Schedules">
      <h1>Schedules</h1>
      <form class="filters" method="get" action="/">
        <label>
          kind
          <input name="kind" value={fields.kind} placeholder="gemm" />
        </label>
        <label>
          target
          <input name="target" value={fields.target} placeholder="local or t-…" />
        </label>
        <label>
          dimensions
          <input name="dims" value={fields.dims} placeholder="M=256..2048,N=512.." />
        </label>
        <label>
          min speedup
          <input name="minSpeedup" value={fields.minSpeedup} placeholder="2" />
        </label>
        <button type="submit">Filter</button>
      </form>
      {props.error ? <p class="error">{props.error}</p> : null}
      {page ? (
        <>
          <p>
            {page.totalCount} schedule{page.totalCount === 1 ? '' : 's'} ·{' '}
            <a href={`/export${query({ ...fields })}`}>export these as JSONL</a> ·{' '}
            <a href={`/export${query({ ...fields, pruned: '1' })}`}>best per shape</a>
          </p>
          <table>
            <thead>
              <tr>
                <th>schedule</th>
                <th>operation</th>
                <th>target</th>
                <th class="num">speedup</th>
                <th class="num">steps</th>
                <th>source</th>
                <th>created</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((s) => (
                <tr>
                  <td>
                    <a href={`/schedules/${s.id}`}>{s.id}</a>
                  </td>
                  <td>{describeOperation(s.operation)}</td>
                  <td>
                    <code>{s.targetKey}</code>
                  </td>
                  <td class="num">{formatSpeedup(s.speedup)}</td>
                  <td class="num">{s.steps.length}</td>
                  <td>{s.provenance.source}</td>
                  <td>{s.createdAt}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {page.hasNextPage && page.endCursor ? (
            <p>
              <a href={`/${query({ ...fields, after: page.endCursor })}`}>next page</a>
            </p>
          ) : null}
        </>
      ) : null}
    </Layout>
  );
}

/** Final code, highlighted: highlight.js escapes the code it wraps in its spans. */
function Code(props: { code: string }) {
  const html = hljs.highlightAuto(props.code, ['c', 'cpp', 'python']).value;
  return (
    <pre>
      <code class="hljs">{raw(html)}</code>
    </pre>
  );
}

export function SchedulePage(props: { schedule: Schedule; reuses: Reuse[] }) {
  const s = props.schedule;
  return (
    <Layout title={s.id}>
      <h1>Schedule {s.id}</h1>
      <dl class="facts">
        <dt>operation</dt>
        <dd>{describeOperation(s.operation)}</dd>
        <dt>target</dt>
        <dd>
          <a href="/targets">
            <code>{s.targetKey}</code>
          </a>
        </dd>
        <dt>baseline → best</dt>
        <dd>
          {formatMs(s.baselineLatencyMs)} → {formatMs(s.bestLatencyMs)} ms ({formatSpeedup(s.speedup)})
        </dd>
        <dt>samples</dt>
        <dd>{s.samplesUsed}</dd>
        <dt>source</dt>
        <dd>
          {s.provenance.source}
          {s.provenance.searchId ? (
            <>
              {' '}
              (search <a href={`/searches/${s.provenance.searchId}`}>{s.provenance.searchId}</a>)
            </>
          ) : null}
        </dd>
        <dt>models</dt>
        <dd>{s.models.length ? s.models.join(', ') : 'none (template planner)'}</dd>
        <dt>created</dt>
        <dd>{s.createdAt}</dd>
      </dl>

      <h2>Plan sequence</h2>
      <LatencyWaterfall baselineMs={s.baselineLatencyMs} steps={s.steps} />
      <table>
        <thead>
          <tr>
            <th class="num">step</th>
            <th>option</th>
            <th class="num">latency (ms)</th>
            <th>plan</th>
          </tr>
        </thead>
        <tbody>
          {s.steps.map((step, i) => (
            <tr>
              <td class="num">{i + 1}</td>
              <td>
                <code>{step.optionId}</code>
                <br />
                <span class="muted">{step.optionLabel}</span>
              </td>
              <td class="num">
                {formatMs(step.latencyBeforeMs)} → {formatMs(step.latencyAfterMs)}
              </td>
              <td class="plan">{step.plan}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Negative evidence</h2>
      {s.negatives.length ? (
        <table>
          <thead>
            <tr>
              <th class="num">from step</th>
              <th>option</th>
              <th>outcome</th>
              <th class="num">latency (ms)</th>
              <th>plan</th>
            </tr>
          </thead>
          <tbody>
            {s.negatives.map((n) => (
              <tr>
                <td class="num">{n.atStep}</td>
                <td>
                  <code>{n.optionId}</code>
                </td>
                <td>{n.outcome}</td>
                <td class="num">{formatMs(n.latencyMs)}</td>
                <td>{n.plan}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">No failed or slower steps were recorded.</p>
      )}

      <h2>Reuses</h2>
      {props.reuses.length ? (
        <ReuseTable
          linkHeader="search"
          rows={props.reuses.map((r) => ({ ...r, link: { href: `/searches/${r.searchId}`, text: r.searchId } }))}
        />
      ) : (
        <p class="muted">No search has been seeded with this schedule yet.</p>
      )}

      <h2>Final code</h2>
      <Code code={s.finalCode} />
    </Layout>
  );
}
