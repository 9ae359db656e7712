import type { TargetRecord } from '../../schedules/index.js';
import { Layout } from './layout.js';

export function TargetsPage(props: { targets: readonly TargetRecord[]; names: ReadonlyMap<string, string> }) {
  const nameOf = new Map([...props.names].map(([name, key]) => [key, name]));
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
            <th>description</th>
            <th>fingerprint</th>
          </tr>
        </thead>
        <tbody>
          {props.targets.map((t) => (
            <tr>
              <td>
                <code>{t.key}</code>
                {nameOf.has(t.key) ? <div class="muted">configured here as {nameOf.get(t.key)}</div> : null}
              </td>
              <td>
                <code>{t.family}</code>
              </td>
              <td>{t.name}</td>
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
