import { loadConfig } from '../config.js';
import { createConsoleLogger } from '../logger.js';
import { openServices, type Services } from '../services.js';
import type { CliIo } from './command.js';

/**
 * Opens the configured services (knowledge base, search service, this machine's targets under their
 * configured names) for one command, runs `use`, and closes them. Their info lines go to debug:
 * a command's output is its own.
 */
export async function withServices<T>(io: CliIo, use: (services: Services) => Promise<T>): Promise<T> {
  const config = loadConfig(io.env, io.cwd);
  const base = createConsoleLogger({ debug: Boolean(io.env.SKB_DEBUG) });
  const services = await openServices(config, { cwd: io.cwd, env: io.env, logger: { ...base, info: base.debug } });
  try {
    return await use(services);
  } finally {
    await services.close();
  }
}
