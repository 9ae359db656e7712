/** Embedding vectors as stored: little-endian float32, so the bytes mean the same on every machine. */
import { corrupt } from './stored-rows.js';

export function vectorToBlob(vector: Float32Array): Uint8Array {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i]!, true);
  return bytes;
}

/** The vector of a blob column; a blob of the wrong size is a corrupt row. */
export function blobToVector(value: unknown, dim: number, what: string): Float32Array {
  const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : value instanceof Uint8Array ? value : null;
  if (!bytes) throw corrupt(what, 'the vector is not a blob');
  if (bytes.byteLength !== dim * 4)
    throw corrupt(what, `the vector has ${bytes.byteLength} bytes, expected ${dim * 4} for dimension ${dim}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
