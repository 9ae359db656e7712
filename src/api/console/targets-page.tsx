import type { MemberState } from '../../targets/index.js';
import type { ListedTarget } from '../target-listing.js';
import { Layout } from './layout.js';

/** A listed target with the members of its pool on this service (none where it runs no searches here). */
export type TargetRow = ListedTarget & { members: readonly MemberState[] };

export function TargetsPage(props: { targets: readonly TargetRow[] }) {
  return (
    <Layout title="Targets">
      <h1>Targets</h1>
      <p class="muted">
        Every target the knowledge base has measurements of; schedules are compared within a hardware family.
      </p>
      <table>
        <thead>
          <tr>
            <th>key</th>
            <th>family</th>
            <th>name</th>
            <th>schedules</th>
            <th>members</th>
            <th>description</th>
            <th>fingerprint</th>
          </tr>
        </thead>
        <tbody>
          {props.targets.map((t) => (
            <tr>
              <td>
                <code>{t.key}</code>
                {t.configuredAs !== null ? <div class="muted">configured here as {t.configuredAs}</div> : null}
              </td>
              <td>
                <code>{t.family}</code>
              </td>
              <td>{t.displayName}</td>
              <td>
                {t.scheduleCount}
                <div class="muted">{t.origin}</div>
              </td>
              <td>
                {t.members.length ? (
                  <ul class="members">
                    {t.members.map((m) => (
                      <li>
                        <code>{m.name}</code> <span class={`member-${m.state}`}>{m.state}</span>
                        {m.searchId ? (
                          <>
                            {' '}
                            <a href={`/searches/${encodeURIComponent(m.searchId)}`}>search</a>
                          </>
                        ) : null}
                        {m.reason ? <div class="muted">{m.reason}</div> : null}
                      </li>
                    ))}
                  </ul>
                ) : (
                  <span class="muted">none here</span>
                )}
              </td>
              <td>{t.description}</td>
              <td>
                <pre>{JSON.stringify(t.fingerprint, null, 2)}</pre>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}
