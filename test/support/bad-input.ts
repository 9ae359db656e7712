/** Whether calling `f` throws the typed BAD_INPUT error a user is shown (anything else, or no error, is false). */
import { isSkbError } from '../../src/schedules/index.js';

export function badInput(f: () => unknown): boolean {
  try {
    f();
  } catch (err) {
    return isSkbError(err) && err.code === 'BAD_INPUT';
  }
  return false;
}
