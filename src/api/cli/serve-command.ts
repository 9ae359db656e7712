import { loadConfig } from '../config.js';
import { createConsoleLogger } from '../logger.js';
import { registerLocalTargets } from '../local-targets.js';
import { openConfiguredKnowledgeBase } from '../open-knowledge-base.js';
import { startServer } from '../server.js';
import { writeOut, type CliCommand } from './command.js';
import { ENVIRONMENT_HELP } from './env-help.js';
import { EXIT } from './run-cli.js';

/** `skb serve`: the HTTP service until SIGINT or SIGTERM, then a clean stop that saves the index. */
export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'run the HTTP service (GraphQL at /graphql, GraphiQL in a browser, /health)',
  usage: `Usage: skb serve

Starts the service at http://SKB_HOST:SKB_PORT: POST /graphql (open it in a browser for GraphiQL),
GET /health. Stops cleanly on Ctrl-C (SIGINT) or SIGTERM, saving the vector index.

${ENVIRONMENT_HELP}
  SKB_HOST              address to listen on (default 127.0.0.1; other addresses need SKB_API_TOKEN)
  SKB_PORT              port (default 4477; 0 picks a free one)
  SKB_API_TOKEN         bearer token required for mutations (at least 16 characters); without it,
                        mutations are accepted from loopback only
  SKB_MAX_REQUEST_BYTES largest request body (default 16777216)
  SKB_DEBUG             set to 1 to log debug lines
`,
  options: {},
  positionals: { min: 0, max: 0 },
  async run(_args, io) {
    const config = loadConfig(io.env, io.cwd);
    const logger = createConsoleLogger({ debug: Boolean(io.env.SKB_DEBUG) });
    const kb = await openConfiguredKnowledgeBase(config);
    let server;
    try {
      const targetNames = await registerLocalTargets({ store: kb.store, targetsFile: config.targetsFile, cwd: io.cwd, logger });
      server = await startServer({ kb, config, logger, targetNames });
    } catch (error) {
      await kb.close();
      throw error;
    }
    await writeOut(
      io.stdout,
      `schedule-kb listening on ${server.url} (GraphQL and GraphiQL at ${server.url}/graphql, health at ${server.url}/health)\n` +
        (config.apiToken ? '' : 'No SKB_API_TOKEN: mutations are accepted from this machine only.\n'),
    );
    const running = server;
    await new Promise<void>((resolve) => {
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
    return EXIT.ok;
  },
};
