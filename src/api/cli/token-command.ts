import { join } from 'node:path';
import { API_TOKEN_FILE, readStoredToken } from '../api-token.js';
import { loadConfig } from '../config.js';
import { writeOut, type CliCommand } from './command.js';
import { EXIT } from './run-cli.js';

/**
 * `skb token`: prints the API token mutations need, for scripts that call the HTTP API
 * (curl -H "Authorization: Bearer $(skb token)"). It reads what `skb serve` uses: SKB_API_TOKEN,
 * else the token generated into the data directory.
 */
export const tokenCommand: CliCommand = {
  name: 'token',
  summary: 'print the API token that mutations over HTTP need (SKB_API_TOKEN, else the generated one)',
  usage: `Usage: skb token

Prints the bearer token the service requires for mutations, on one line: the value of
SKB_API_TOKEN when it is set, else the token \`skb serve\` generated at its first start into
SKB_DATA_DIR/api-token (readable by its owner only). Use it as
  curl -H "Authorization: Bearer $(skb token)" ...

Environment:
  SKB_API_TOKEN   the token, when you choose it yourself
  SKB_DATA_DIR    where the generated token lives (default data)
`,
  options: {},
  positionals: { min: 0, max: 0 },
  async run(_args, io) {
    const config = loadConfig(io.env, io.cwd);
    if (config.apiToken) {
      await writeOut(io.stdout, `${config.apiToken}\n`);
      return EXIT.ok;
    }
    const path = join(config.dataDir, API_TOKEN_FILE);
    const token = await readStoredToken(path);
    if (token === null) {
      await writeOut(
        io.stderr,
        `No API token yet: ${path} does not exist. Start the service once (skb serve) to generate it, or set SKB_API_TOKEN.\n`,
      );
      return EXIT.failed;
    }
    await writeOut(io.stdout, `${token}\n`);
    return EXIT.ok;
  },
};
