import { describeSeedPacks } from '../../search/index.js';
import { loadConfig } from '../config.js';
import { createConsoleLogger } from '../logger.js';
import { startServer, tokenHint } from '../server.js';
import { openServices } from '../services.js';
import { writeOut, type CliCommand } from './command.js';
import { ENVIRONMENT_HELP } from './env-help.js';
import { EXIT } from './run-cli.js';

/** `skb serve`: the HTTP service until SIGINT or SIGTERM, then a clean stop that saves the index. */
export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'run the HTTP service (GraphQL at /graphql, GraphiQL in a browser, /health)',
  usage: `Usage: skb serve

Starts the service at http://SKB_HOST:SKB_PORT: POST /graphql (open it in a browser for GraphiQL),
GET /health. Searches started with the startSearch mutation run in this process; searches an
earlier process left running are resumed at start. Stops cleanly on Ctrl-C (SIGINT) or SIGTERM,
saving the vector index (running searches are resumed at the next start).

${ENVIRONMENT_HELP}
  SKB_HOST              address to listen on (default 127.0.0.1; other addresses need SKB_API_TOKEN)
  SKB_PORT              port (default 4477; 0 picks a free one)
  SKB_API_TOKEN         bearer token required for mutations (at least 16 characters); without it,
                        one is generated at the first start into SKB_DATA_DIR/api-token (owner
                        only) and required from every address: \`skb token\` prints it
  SKB_MAX_REQUEST_BYTES largest request body (default 16777216)
  SKB_MAX_DEPTH         deepest query nesting (default 12; introspection is exempt)
  SKB_MAX_ALIASES       aliased fields per operation (default 15)
  SKB_MAX_COST          static cost of a query (default 5000; introspection is exempt)
  SKB_MAX_DIRECTIVES    directives per operation (default 50)
  SKB_MAX_TOKENS        lexical tokens per document (default 1000)
  SKB_QUERY_DEADLINE_MS how long a query or mutation may execute (default 30000)
  SKB_MODELS            comma-separated models of the LLM planner (default gpt-4o-mini)
  SKB_TARGETS_FILE      the targets file (default data/targets.json, else this machine with gcc)
  SKB_DEBUG             set to 1 to log debug lines
`,
  options: {},
  positionals: { min: 0, max: 0 },
  async run(_args, io) {
    const config = loadConfig(io.env, io.cwd);
    const logger = createConsoleLogger({ debug: Boolean(io.env.SKB_DEBUG) });
    const services = await openServices(config, { cwd: io.cwd, env: io.env, logger });
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      server = await startServer({
        kb: services.kb,
        config,
        logger,
        search: services.search,
        targetNames: services.targetNames,
        targetIds: services.targetIds,
        memberStates: services.memberStates,
      });
    } catch (error) {
      await services.close();
      throw error;
    }
    // Searches a stopped or crashed process left running continue where they stopped. A failure
    // here is logged, not fatal: the knowledge base is still worth serving.
    try {
      const resumed = await services.search.resumeInterrupted();
      if (resumed.length) logger.info(`resumed ${resumed.length} interrupted search(es): ${resumed.join(', ')}`);
    } catch (error) {
      logger.error('resuming interrupted searches failed', error);
    }
    // The signal handlers go in before the start-up line is written: a client that reads the line
    // and stops the service at once must get a clean stop, not the default action of SIGTERM.
    const running = server;
    const stopped = new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        logger.info(`${signal}: stopping`);
        running.close().then(resolve, (error: unknown) => {
          logger.error('stopping failed', error);
          resolve();
        });
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    const packs = await services.kb.seedPacks();
    await writeOut(
      io.stdout,
      `schedule-kb listening on ${server.url} (GraphQL and GraphiQL at ${server.url}/graphql, health at ${server.url}/health)\n` +
        `Seed packs: ${describeSeedPacks(packs)}; ${(await services.kb.counts()).schedules} schedules in all.\n` +
        (server.apiToken.source.kind === 'file' && server.apiToken.source.created
          ? `Generated an API token at ${server.apiToken.source.path}, readable by this account only.\n`
          : '') +
        `Mutations need the API token (Authorization: Bearer <token>), ${tokenHint(server.apiToken)}.\n`,
    );
    await stopped;
    return EXIT.ok;
  },
};
