/**
 * One key per operation: layouts and attributes at their default values key as when omitted, for
 * every kind, for stored schedules (migration 5) as for new ones, while export files keep each
 * operation exactly as written.
 */
import { createClient } from '@libsql/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createLibsqlStore,
  exactOperationKey,
  exportJsonl,
  parseJsonl,
  parseOperation,
  shapeKey,
  structureKey,
} from '../../src/schedules/index.js';
import { migrate } from '../../src/schedules/migrations.js';
import { makeContent, makeCpuTarget } from '../support/fixtures.js';

const same = (a: object, b: object): void => {
  expect(shapeKey(parseOperation(a))).toBe(shapeKey(parseOperation(b)));
  expect(exactOperationKey(parseOperation(a))).not.toBe(exactOperationKey(parseOperation(b)));
};
const differ = (a: object, b: object): void =>
  expect(structureKey(parseOperation(a))).not.toBe(structureKey(parseOperation(b)));

describe('canonical operation keys', () => {
  const gemm = { kind: 'gemm', dims: { M: 64, N: 64, K: 64 } };
  const conv = { kind: 'conv2d', dims: { N: 1, C: 64, H: 56, W: 56, K: 64, R: 3, S: 3 } };

  it('gemm and batched gemm: layout nn (or row) is the omitted layout; tn is not', () => {
    same({ ...gemm, layout: 'nn' }, gemm);
    same({ ...gemm, layout: 'row' }, gemm);
    differ({ ...gemm, layout: 'tn' }, gemm);
    const batched = { kind: 'batched_gemm', dims: { B: 4, M: 64, N: 64, K: 64 } };
    same({ ...batched, layout: 'nn' }, batched);
    differ({ ...batched, layout: 'tt' }, batched);
  });

  it('conv2d: stride 1, pad 0, dilation 1, groups 1 and NCHW are the omitted ones', () => {
    same({ ...conv, attrs: { stride: 1, pad: 1 } }, { ...conv, attrs: { pad: 1 } });
    same({ ...conv, attrs: { pad: 0, dilation: 1, groups: 1 } }, conv);
    same({ ...conv, layout: 'nchw' }, conv);
    differ({ ...conv, attrs: { stride: 2, pad: 1 } }, { ...conv, attrs: { pad: 1 } });
    differ({ ...conv, layout: 'nhwc' }, conv);
  });

  it('matvec, softmax and layernorm: row-major is the omitted layout', () => {
    same({ kind: 'matvec', dims: { M: 64, K: 64 }, layout: 'row' }, { kind: 'matvec', dims: { M: 64, K: 64 } });
    same({ kind: 'softmax', dims: { M: 64, N: 64 }, layout: 'row' }, { kind: 'softmax', dims: { M: 64, N: 64 } });
    same({ kind: 'layernorm', dims: { M: 64, N: 64 }, layout: 'row' }, { kind: 'layernorm', dims: { M: 64, N: 64 } });
    same(
      { kind: 'layernorm', dims: { M: 64, N: 64 }, attrs: { rms: 0, affine: 1 } },
      { kind: 'layernorm', dims: { M: 64, N: 64 } },
    );
    // A default of one kind is not a default of another.
    differ(
      { kind: 'softmax', dims: { M: 64, N: 64 }, attrs: { stride: 1 } },
      { kind: 'softmax', dims: { M: 64, N: 64 } },
    );
  });
});

describe('canonical keys of normalisations', () => {
  const ln = { kind: 'layernorm', dims: { M: 16, N: 4194304 } };

  it('rms 0 and affine 1 are the omitted ones; RMS and no weight are other structures', () => {
    same({ ...ln, attrs: { rms: 0 } }, ln);
    same({ ...ln, attrs: { affine: 1 } }, ln);
    differ({ ...ln, attrs: { rms: 1 } }, ln);
    differ({ ...ln, attrs: { affine: 0 } }, ln);
    differ({ ...ln, attrs: { rms: 1, affine: 0 } }, { ...ln, attrs: { rms: 1 } });
  });

  it('parameter names, their shape and eps name or parametrize one kernel: keys drop them', () => {
    same({ ...ln, attrs: { weight: 'ln.weight', bias: 'ln.bias', shape: '64,256,256' } }, ln);
    same({ ...ln, attrs: { eps: '1e-6' } }, { ...ln, attrs: { eps: '1e-5' } });
    same({ ...ln, attrs: { eps: '1e-6', affine: 1 } }, ln);
  });

  it('the columns form keys its axis and differs from rows of the same sizes', () => {
    const cols = { kind: 'layernorm', dims: { B: 112, R: 64, I: 262144 }, attrs: { rms: 1, affine: 0, dim: 1 } };
    differ(cols, { ...cols, attrs: { ...cols.attrs, dim: 2 } });
    differ({ kind: 'layernorm', dims: { M: 64, N: 64 }, attrs: { rms: 1, affine: 0 } }, cols);
    same({ ...cols, attrs: { ...cols.attrs, rms: 1, eps: '1e-5' } }, cols);
  });
});

describe('stored schedules and export files', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const target = makeCpuTarget('local');
  const dims = { N: 1, C: 16, H: 8, W: 8, K: 16, R: 3, S: 3 };
  const spelled = makeContent({ target, kind: 'conv2d', dims, operation: { attrs: { stride: 1, pad: 1 } } });
  const terse = makeContent({
    target,
    kind: 'conv2d',
    dims,
    operation: { attrs: { pad: 1 } },
    createdAt: '2026-02-01T00:00:00.000Z',
  });

  it('migration 5 re-keys schedules stored under the old keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skb-keys-'));
    dirs.push(dir);
    const url = `file:${join(dir, 'kb.db')}`;
    const store = await createLibsqlStore({ url });
    await store.insertSchedules([spelled], { targets: [target] });
    store.close();
    // As a database written before keys were canonical holds it.
    const client = createClient({ url });
    const old = parseOperation(spelled.operation);
    await client.execute({
      sql: 'UPDATE schedules SET structure_key = ?, shape_key = ?',
      args: [exactOperationKey(old).replace(/\|[^|]*$/, ''), exactOperationKey(old)],
    });
    await client.execute('DELETE FROM schema_migrations WHERE version = 5');
    expect(await migrate(client)).toEqual([5]);
    const row = (await client.execute('SELECT structure_key, shape_key FROM schedules')).rows[0]!;
    expect(row.shape_key).toBe(shapeKey(parseOperation(terse.operation)));
    expect(String(row.structure_key)).toMatch(/\|pad=1$/);
    client.close();
    const reopened = await createLibsqlStore({ url });
    const found = await reopened.listSchedules({ shapeKey: shapeKey(parseOperation(terse.operation)) }, { first: 5 });
    expect(found.totalCount).toBe(1);
    reopened.close();
  });

  it('an export keeps operations that differ only in a spelled-out default apart, and imports byte for byte', async () => {
    const store = await createLibsqlStore({ url: ':memory:' });
    await store.insertSchedules([spelled, terse], { targets: [target] });
    const schedules = await store.allSchedules({});
    const text = exportJsonl(schedules, [target], { embedderId: null });
    expect(text.split('\n').filter((l) => l.includes('"type":"operation"'))).toHaveLength(2);
    const parsed = parseJsonl(text);
    const again = await createLibsqlStore({ url: ':memory:' });
    await again.insertSchedules(parsed.contents, { targets: parsed.targets });
    expect(exportJsonl(await again.allSchedules({}), [target], { embedderId: null })).toBe(text);
    store.close();
    again.close();
  });
});
