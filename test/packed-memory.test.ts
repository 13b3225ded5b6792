import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { HashPool, MAX_THREADS } from '../src/bundle/hashpool.js';

// Memory of the packed CLI (issue #14): start-up and the hashing threads of verify.
describe('packed CLI memory', () => {
  it('is pure ASCII, so V8 holds its 3.7 MB source as one byte a character (a single non-ASCII one doubles it)', () => {
    const bytes = readFileSync(fileURLToPath(new URL('../dist/vault-bundle.cjs', import.meta.url)));
    const at = bytes.findIndex((b) => b > 0x7f);
    expect(at === -1 ? '' : bytes.subarray(Math.max(0, at - 60), at + 20).toString('latin1')).toBe('');
  });

  it(`starts at most ${MAX_THREADS} hashing threads whatever is asked, the main thread one of them`, async () => {
    vi.stubEnv('VAULT_HASHER', 'threads');
    const pool = new HashPool(64);
    try {
      expect(pool.hashers).toBe(MAX_THREADS);
      expect((pool as unknown as { workers: unknown[] }).workers).toHaveLength(MAX_THREADS - 1);
    } finally {
      await pool.close();
      vi.unstubAllEnvs();
    }
  });

  it('starts no hashing thread where sha256sum processes hash the big files (a ~2 MB process each, not a ~7.5 MB isolate)', async () => {
    vi.stubEnv('VAULT_HASHER', 'openssl');
    const pool = new HashPool(64);
    try {
      expect((pool as unknown as { workers: unknown[] }).workers).toHaveLength(0);
      expect(pool.by).toEqual({ by: 'openssl', processes: 0 });
    } finally {
      await pool.close();
      vi.unstubAllEnvs();
    }
  });
});
