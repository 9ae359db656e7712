import { formatSpeedup } from '../cli/search-report.js';
import type { Child } from 'hono/jsx';

/** The page shell every console page shares: navigation, the stylesheets, and the live script where a page asks for it. */
export function Layout(props: { title: string; live?: boolean; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · schedule-kb`}</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
        <link rel="stylesheet" href="/console/assets/highlight.css" />
        {props.live ? <script src="/console/assets/console.js" defer /> : null}
      </head>
      <body>
        <header>
          <nav>
            <a class="brand" href="/">
              schedule-kb
            </a>
            <a href="/">Schedules</a>
            <a href="/searches">Searches</a>
            <a href="/searches/new">New search</a>
            <a href="/targets">Targets</a>
            <a href="/graphql">GraphiQL</a>
          </nav>
        </header>
        <main id="main">{props.children}</main>
      </body>
    </html>
  );
}

/** A page that could not be shown as asked: what went wrong and what to change. */
export function Problem(props: { title: string; message: string }) {
  return (
    <Layout title={props.title}>
      <h1>{props.title}</h1>
      <p class="error">{props.message}</p>
    </Layout>
  );
}

/** One reuse of a schedule by a search: the row both the schedule page (its reuses) and the search page (its seeds) show. */
export interface ReuseRow {
  link: { href: string; text: string };
  tier: string;
  distance: number;
  outcome: string;
  gain?: number | null | undefined;
}

export function ReuseTable(props: { linkHeader: string; rows: readonly ReuseRow[] }) {
  return (
    <table>
      <thead>
        <tr>
          <th>{props.linkHeader}</th>
          <th>tier</th>
          <th class="num">distance</th>
          <th>outcome</th>
          <th class="num">gain</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r) => (
          <tr>
            <td>
              <a href={r.link.href}>{r.link.text}</a>
            </td>
            <td>{r.tier}</td>
            <td class="num">{r.distance.toPrecision(3)}</td>
            <td>{r.outcome}</td>
            <td class="num">{formatSpeedup(r.gain ?? null)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
