/**
 * The opaque page cursors of this folder: the position of a row in its order, (created at, id),
 * as base64url JSON. A cursor is only ever read back by the listing that issued it.
 */
import { z } from 'zod';
import { SkbError } from '../errors.js';

/** Where a row stands in a listing: its creation time (as the listing orders it) and its id. */
export type CursorPosition = [createdAt: string, id: string];

const CursorSchema = z.tuple([z.string().min(1), z.string().min(1)]);

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** The position a cursor holds; BAD_INPUT for anything this service did not issue. */
export function decodeCursor(cursor: string): CursorPosition {
  try {
    return CursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new SkbError(
      'BAD_INPUT',
      `The cursor "${cursor.slice(0, 40)}" is not one this service issued: pass the endCursor of a previous page`,
    );
  }
}
