import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * schema.graphql at the package root. Resolved from this module's own location, which is three
 * levels below the root both in src/ (vitest) and in dist/ (the built CLI), so the working
 * directory does not matter.
 */
export const SCHEMA_PATH = fileURLToPath(new URL('../../../schema.graphql', import.meta.url));

/** Reads the API contract; called once at start. */
export function loadSchemaText(path = SCHEMA_PATH): string {
  return readFileSync(path, 'utf8');
}
