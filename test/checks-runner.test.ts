import { describe, expect, it } from 'vitest';
import type { Check, CheckCtx } from '../src/checks/check.js';
import { checks as registry } from '../src/checks/registry.js';
import { runProcess } from '../src/checks/proc.js';
import { runChecks, selectChecks } from '../src/checks/runner.js';

const ctx = (): Omit<CheckCtx, 'signal'> & { lines: string[] } => {
  const lines: string[] = [];
  return {
    lines,
    exec: runProcess,
    env: {},
    options: {},
    state: { models: [] },
    workDir: '/tmp',
    outDir: '/tmp',
    rawDir: '/tmp',
    log: (l) => lines.push(l),
    report: () => {},
  };
};

const check = (id: string, run: Check['run'], extra: Partial<Check> = {}): Check => ({ id, title: id, run, ...extra });

describe('check runner', () => {
  it('runs in order, skips a check whose needs did not pass ("needs <id>"), transitively', async () => {
    const order: string[] = [];
    const r = await runChecks(
      [
        check('gpu.inventory', async () => (order.push('inv'), { status: 'fail', reason: 'no GPU' })),
        check('python.env', async () => (order.push('py'), { status: 'pass' }), { needs: ['gpu.inventory'] }),
        check('gpu.matmul', async () => (order.push('mm'), { status: 'pass' }), { needs: ['python.env'] }),
        check('other', async () => (order.push('other'), { status: 'pass', metrics: { x_gbps: 1 } })),
      ],
      { ctx: ctx() },
    );
    expect(order).toEqual(['inv', 'other']);
    expect(r.map((x) => [x.id, x.status, x.reason])).toEqual([
      ['gpu.inventory', 'fail', 'no GPU'],
      ['python.env', 'skip', 'needs gpu.inventory'],
      ['gpu.matmul', 'skip', 'needs python.env'],
      ['other', 'pass', undefined],
    ]);
    expect(r[3]).toMatchObject({ title: 'other', metrics: { x_gbps: 1 } });
    expect(typeof r[0]!.durationMs).toBe('number');
    expect(r[0]!.started).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('a throw becomes status error with the message, and a bad return value too; the run goes on', async () => {
    const r = await runChecks(
      [
        check('a', async () => {
          throw new Error('boom');
        }),
        check('b', async () => ({ status: 'weird' }) as never),
        check('c', async () => ({ status: 'fail' })),
        check('d', async () => ({ status: 'pass' })),
      ],
      { ctx: ctx() },
    );
    expect(r.map((x) => x.status)).toEqual(['error', 'error', 'fail', 'pass']);
    expect(r[0]!.reason).toBe('a crashed: boom');
    expect(r[1]!.reason).toMatch(/returned no valid status/);
    expect(r[2]!.reason).toBe('c gave no reason');
  });

  it('a check past its timeout is an error, its signal is aborted (killing its process group), and the next check runs', async () => {
    let aborted = false;
    const t0 = Date.now();
    const r = await runChecks(
      [
        check(
          'slow',
          async (c) => {
            c.signal.addEventListener('abort', () => (aborted = true));
            const p = await c.exec('sh', ['-c', 'sleep 30 & sleep 30; echo never'], { signal: c.signal });
            return { status: 'pass', reason: `exit ${p.code} aborted=${p.aborted}` };
          },
          { timeoutMs: 300 },
        ),
        check('ignores-signal', () => new Promise(() => {}), { timeoutMs: 100 }),
        check('next', async () => ({ status: 'pass' })),
      ],
      { ctx: ctx(), timeouts: { 'ignores-signal': 150 } },
    );
    expect(r.map((x) => [x.status, x.reason])).toEqual([
      ['error', 'timed out after 0.3 s'],
      ['error', 'timed out after 0.2 s'],
      ['pass', undefined],
    ]);
    expect(aborted).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('an interrupted run (Ctrl-C) errors the check in flight and skips the rest', async () => {
    const ac = new AbortController();
    const r = await runChecks(
      [
        check('a', async () => {
          setTimeout(() => ac.abort(), 20);
          return new Promise(() => {});
        }),
        check('b', async () => ({ status: 'pass' })),
      ],
      { ctx: ctx(), signal: ac.signal },
    );
    expect(r.map((x) => [x.status, x.reason])).toEqual([
      ['error', 'interrupted'],
      ['skip', 'interrupted'],
    ]);
  });

  it('before() hooks run first and their failure is only logged', async () => {
    const c = ctx();
    const seen: string[] = [];
    await runChecks(
      [
        check('a', async () => (seen.push('run'), { status: 'pass' }), {
          before: async () => {
            seen.push('before');
            throw new Error('no dmesg');
          },
        }),
      ],
      { ctx: c },
    );
    expect(seen).toEqual(['before', 'run']);
    expect(c.lines[0]).toBe('a: before() failed: no dmesg');
  });

  it('--only takes ids or areas and adds what they need; unknown names are refused', () => {
    expect(selectChecks(registry, ['gpu.matmul']).map((c) => c.id)).toEqual(['gpu.inventory', 'python.env', 'gpu.matmul']);
    expect(selectChecks(registry, ['inference']).map((c) => c.id)).toEqual([
      'gpu.inventory',
      'python.env',
      'models.load',
      'inference.transformers',
      'inference.vllm',
    ]);
    expect(selectChecks(registry).map((c) => c.id)).toEqual(registry.map((c) => c.id));
    expect(() => selectChecks(registry, ['gpu.nope'])).toThrow(/unknown check gpu.nope/);
  });

  it('the registry: unique ids, needs point backwards, every load check needs python first', () => {
    const ids = registry.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    registry.forEach((c, i) => {
      for (const n of c.needs ?? []) {
        expect(ids.indexOf(n), `${c.id} needs ${n}`).toBeGreaterThanOrEqual(0);
        expect(ids.indexOf(n)).toBeLessThan(i);
      }
    });
    expect(ids[0]).toBe('gpu.inventory');
    expect(ids.at(-1)).toBe('gpu.ecc-xid');
  });
});

describe('runProcess', () => {
  it('captures output and exit codes, gives 127 for a missing program, kills on timeout', async () => {
    expect(await runProcess('sh', ['-c', 'echo out; echo err >&2; exit 3'])).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    expect((await runProcess('definitely-not-a-program-xyz', [])).code).toBe(127);
    const t = await runProcess('sh', ['-c', 'sleep 20'], { timeoutMs: 100 });
    expect(t.timedOut).toBe(true);
    expect(t.code).not.toBe(0);
  });
});
