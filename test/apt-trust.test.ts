import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchIndexes } from '../src/sources/apt/indexes.js';
import { readKeyring } from '../src/sources/apt/keyring.js';
import { fetchRelease } from '../src/sources/apt/release.js';
import { expandSources } from '../src/sources/apt/repos.js';
import { fetchSmall } from '../src/fetch/open.js';
import { testBuildCtx } from './helpers/build.js';
import { makeKey, makeRepo, serveDir, type SigningKey, writeRelease } from './helpers/apt-repo.js';
import { tempDir } from './helpers/tmp.js';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

let work: string;
let key: SigningKey;
let stranger: SigningKey;
let pristine: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vb-apt-trust-'));
  key = await makeKey(work, 'Repo Key');
  stranger = await makeKey(work, 'Stranger');
  pristine = join(work, 'repo');
  await makeRepo(pristine, {
    key,
    packages: [
      { name: 'alpha', version: '1.0-1', depends: 'beta (>= 2)' },
      { name: 'beta', version: '2.1-1' },
    ],
  });
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** A copy of the repository served on 127.0.0.1, to damage per test. */
async function served(): Promise<{ root: string; url: string; close: () => Promise<void>; requests: string[] }> {
  const root = join(await tempDir(), 'repo');
  await cp(pristine, root, { recursive: true });
  const s = await serveDir(root);
  return { root, ...s };
}

async function release(url: string, keyring: string, o: { now?: Date; checkValidUntil?: boolean } = {}) {
  const dir = await tempDir();
  const ctx = testBuildCtx(dir, o.now);
  return fetchRelease((u, max) => fetchSmall(u, max, 'test', ctx), `${url}/dists/stable`, await readKeyring(keyring), {
    now: o.now ?? new Date(),
    checkValidUntil: o.checkValidUntil ?? true,
    subject: 'test',
  });
}

describe('apt trust chain', () => {
  it('verifies an InRelease signed by gpg and records digest and signer', async () => {
    const s = await served();
    try {
      const r = await release(s.url, key.keyring);
      expect(r.signer).toBe(key.fingerprint);
      expect(r.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(r.files.get('main/binary-amd64/Packages.gz')?.size).toBeGreaterThan(0);
      expect(r.fields.Codename).toBe('stable');
    } finally {
      await s.close();
    }
  });

  it('refuses a tampered InRelease', async () => {
    const s = await served();
    try {
      const p = join(s.root, 'dists/stable/InRelease');
      await writeFile(p, (await readFile(p, 'utf8')).replace('Label: Test', 'Label: Evil'));
      await expect(release(s.url, key.keyring)).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' });
    } finally {
      await s.close();
    }
  });

  it('refuses a Release signed by an unknown key, naming the keyring', async () => {
    const s = await served();
    try {
      const err = await release(s.url, stranger.keyring).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'SIGNATURE_INVALID', message: expect.stringContaining(stranger.keyring) });
    } finally {
      await s.close();
    }
  });

  it('refuses an expired Release unless check-valid-until is off', async () => {
    const s = await served();
    try {
      await writeRelease(s.root, { key, validUntil: new Date(Date.now() - 86_400_000), date: new Date(Date.now() - 7 * 86_400_000) });
      await expect(release(s.url, key.keyring)).rejects.toMatchObject({ code: 'INDEX_EXPIRED' });
      await expect(release(s.url, key.keyring, { checkValidUntil: false })).resolves.toBeTruthy();
    } finally {
      await s.close();
    }
  });

  it('falls back to Release + Release.gpg when there is no InRelease', async () => {
    const s = await served();
    try {
      const base = join(s.root, 'dists/stable');
      await rm(join(base, 'InRelease'));
      const { execFileSync } = await import('node:child_process');
      execFileSync(
        'gpg',
        ['--batch', '--yes', '--local-user', key.fingerprint, '--armor', '--detach-sign', '--output', join(base, 'Release.gpg'), join(base, 'Release')],
        {
          env: { ...process.env, GNUPGHOME: key.home },
          stdio: 'ignore',
        },
      );
      const r = await release(s.url, key.keyring);
      expect(r.url).toMatch(/\/Release$/);
      expect(r.signer).toBe(key.fingerprint);
      await writeFile(join(base, 'Release'), `${await readFile(join(base, 'Release'), 'utf8')}X-Extra: 1\n`);
      await expect(release(s.url, key.keyring)).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' });
    } finally {
      await s.close();
    }
  });

  it('refuses a Packages index whose hash does not match the signed Release', async () => {
    const s = await served();
    try {
      const p = join(s.root, 'dists/stable/main/binary-amd64/Packages.gz');
      const text = (await readFile(join(s.root, 'dists/stable/main/binary-amd64/Packages'), 'utf8')).replace('beta', 'bet4');
      await writeFile(p, gzipSync(text));
      const dir = await tempDir();
      const ctx = testBuildCtx(dir);
      const repos = await expandSources(
        { sources: [{ uri: s.url, suites: ['stable'], components: ['main'], 'signed-by': key.keyring }], packages: ['alpha'], exclude: [], recommends: true },
        dir,
      );
      const err = await fetchIndexes(repos, ['amd64'], ctx).catch((e: unknown) => e);
      expect(err).toMatchObject({ message: expect.stringContaining('main/binary-amd64/Packages.gz') });
      expect(['DIGEST_MISMATCH', 'SIZE_MISMATCH']).toContain((err as { code: string }).code);
      // Upstream damage or tampering, not a pin the user could update.
      expect((err as { hint: string }).hint).toContain('damage or tampering upstream');
      expect((err as { hint: string }).hint).not.toContain('lock" again');
    } finally {
      await s.close();
    }
  });

  it('names a component the Release does not have', async () => {
    const s = await served();
    try {
      const dir = await tempDir();
      const repos = await expandSources(
        {
          sources: [{ uri: s.url, suites: ['stable'], components: ['contrib'], 'signed-by': key.keyring }],
          packages: ['alpha'],
          exclude: [],
          recommends: true,
        },
        dir,
      );
      await expect(fetchIndexes(repos, ['amd64'], testBuildCtx(dir))).rejects.toMatchObject({
        code: 'NOT_FOUND_IN_INDEX',
        message: expect.stringContaining('no component "contrib"'),
      });
    } finally {
      await s.close();
    }
  });

  it('accepts a fingerprint as signed-by when the key is in a keyring folder', async () => {
    // Only the path form is portable in a test (fingerprints are looked up in /etc/apt and /usr/share/keyrings),
    // so check the system Debian keyring by one of its fingerprints.
    const dir = await tempDir();
    const k = await readKeyring('/usr/share/keyrings/debian-archive-keyring.gpg').catch(() => undefined);
    if (!k || k.keys.length === 0) return;
    const fpr = k.keys[0]!.getFingerprint().toUpperCase();
    const repos = await expandSources(
      {
        sources: [{ uri: 'http://127.0.0.1:9/debian', suites: ['x'], components: ['main'], 'signed-by': fpr }],
        packages: ['a'],
        exclude: [],
        recommends: true,
      },
      dir,
    );
    expect(repos[0]!.keyring.keys.map((x) => x.getFingerprint().toUpperCase())).toContain(fpr);
  });
});
