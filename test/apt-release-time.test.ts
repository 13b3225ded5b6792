import { execFile, spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchSmall } from '../src/fetch/open.js';
import { readKeyring } from '../src/sources/apt/keyring.js';
import { fetchRelease } from '../src/sources/apt/release.js';
import { makeRepo, serveDir, writeRelease } from './helpers/apt-repo.js';
import { testBuildCtx } from './helpers/build.js';
import { clearSign, makeTimedKey, revokeKey, type TimedKey } from './helpers/pgp-time.js';
import { tempDir } from './helpers/tmp.js';

/**
 * An upstream InRelease judged at the right moment, beside real apt-get update on the same repository: a key that
 * expired or was revoked, a Release dated in the future (apt's 10 s Max-FutureTime), a stale Valid-Until, and
 * text outside the signed block are refused by both.
 */
let work: string;
let key: TimedKey;
let pristine: string;
const hasApt = spawnSync('apt-get', ['--version']).status === 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vb-apt-time-'));
  key = await makeTimedKey(work, 'Repo Time');
  pristine = join(work, 'repo');
  await makeRepo(pristine, { key, packages: [{ name: 'alpha', version: '1.0-1' }] });
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** A copy of the repository to change, served on 127.0.0.1. */
async function served(change?: (inRelease: string, release: string) => Promise<void>) {
  const root = join(await tempDir(), 'repo');
  await cp(pristine, root, { recursive: true });
  const base = join(root, 'dists/stable');
  if (change) await change(join(base, 'InRelease'), join(base, 'Release'));
  return serveDir(root);
}

async function ours(url: string, keyring: string, o: { now?: Date; checkDate?: boolean } = {}) {
  const dir = await tempDir();
  const now = o.now ?? new Date();
  const ctx = testBuildCtx(dir, now);
  return fetchRelease((u, max) => fetchSmall(u, max, 'test', ctx), `${url}/dists/stable`, await readKeyring(keyring), {
    now,
    checkValidUntil: true,
    ...(o.checkDate === undefined ? {} : { checkDate: o.checkDate }),
    subject: 'test',
  });
}

/** Real apt-get update with its own root (nothing of this machine's apt is read or written); its exit and words. */
async function apt(url: string, keyring: string): Promise<{ ok: boolean; out: string }> {
  const root = await tempDir('vb-apt-root');
  for (const d of [
    'etc/apt/apt.conf.d',
    'etc/apt/preferences.d',
    'etc/apt/sources.list.d',
    'etc/apt/trusted.gpg.d',
    'var/lib/apt/lists/partial',
    'var/cache/apt/archives/partial',
  ]) {
    await mkdir(join(root, d), { recursive: true });
  }
  await writeFile(join(root, 'status'), '');
  await writeFile(join(root, 'etc/apt/sources.list'), `deb [signed-by=${keyring}] ${url} stable main\n`);
  // APT_CONFIG first, so that this machine's apt.conf.d (which may turn Check-Date off) is never read.
  const conf = join(root, 'apt.conf');
  await writeFile(conf, `Dir "${root}/";\nDir::Etc::Parts "${root}/etc/apt/apt.conf.d";\nDir::State::status "${root}/status";\n`);
  const o = [
    'APT::Architecture=amd64',
    'Acquire::Languages=none',
    'APT::Sandbox::User=root',
    'Debug::NoLocking=1',
    'Acquire::Check-Date=true',
    'Acquire::Check-Valid-Until=true',
  ];
  // Not spawnSync: the repository is served from this process.
  return new Promise((resolve) => {
    execFile(
      'apt-get',
      [...o.flatMap((x) => ['-o', x]), 'update'],
      { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', APT_CONFIG: conf }, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ ok: !err && !/^(E|W):/m.test(stdout + stderr), out: stdout + stderr });
      },
    );
  });
}

async function both(s: { url: string }, keyring = key.keyring) {
  const mine = await ours(s.url, keyring).then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string; hint: string },
  );
  return { mine, apt: hasApt ? await apt(s.url, keyring) : undefined };
}

describe('InRelease signed by a key that expired or was revoked', () => {
  it('the pristine repository passes both (the reference works)', async () => {
    const s = await served();
    try {
      const r = await both(s);
      expect(r.mine).toBeUndefined();
      if (r.apt) expect(r.apt).toMatchObject({ ok: true });
    } finally {
      await s.close();
    }
  });

  it('a key expired since it signed: apt says EXPKEYSIG; SIGNATURE_REFUSED naming the key, the date and what to do', async () => {
    const old = await makeTimedKey(work, 'Old Repo', { created: new Date('2020-01-01T00:00:00Z'), expire: '1y' });
    const s = await served((inRel, rel) => Promise.resolve(clearSign(old, rel, inRel, new Date('2020-06-01T00:00:00Z'))));
    try {
      const r = await both(s, old.keyring);
      expect(r.mine).toMatchObject({ code: 'SIGNATURE_REFUSED', message: expect.stringContaining(`the signing key ${old.fingerprint} expired on 2020-12-31`) });
      expect(r.mine!.message).toContain('/dists/stable/InRelease');
      expect(r.mine!.hint).toMatch(/current key/);
      if (r.apt) expect(r.apt).toMatchObject({ ok: false, out: expect.stringContaining('EXPKEYSIG') });
    } finally {
      await s.close();
    }
  });

  it('a revoked key (revocation in the signed-by keyring): apt says REVKEYSIG; SIGNATURE_REFUSED', async () => {
    const k = await makeTimedKey(work, 'Revoked Repo');
    const s = await served((inRel, rel) => Promise.resolve(clearSign(k, rel, inRel)));
    await revokeKey(k);
    try {
      const r = await both(s, k.keyring);
      expect(r.mine).toMatchObject({ code: 'SIGNATURE_REFUSED', message: expect.stringContaining(`the signing key ${k.fingerprint} was revoked on`) });
      if (r.apt) expect(r.apt).toMatchObject({ ok: false, out: expect.stringContaining('REVKEYSIG') });
    } finally {
      await s.close();
    }
  });
});

describe('Release Date and Valid-Until', () => {
  const resigned = (date?: Date, validUntil?: Date) => async (_inRel: string, rel: string) => {
    await writeRelease(rel.replace(/\/dists\/stable\/Release$/, ''), { key, ...(date ? { date } : {}), ...(validUntil ? { validUntil } : {}) });
  };

  it('a Date an hour ahead: apt "is not valid yet"; RELEASE_NOT_YET_VALID with the date and the skew; check-date: false accepts it', async () => {
    const s = await served(resigned(new Date(Date.now() + 3600_000)));
    try {
      const r = await both(s);
      expect(r.mine).toMatchObject({ code: 'RELEASE_NOT_YET_VALID', message: expect.stringMatching(/is not valid yet: its Date is \S+Z, \d+ s ahead/) });
      expect(r.mine!.hint).toMatch(/clock/);
      if (r.apt) expect(r.apt).toMatchObject({ ok: false, out: expect.stringContaining('is not valid yet') });
      await expect(ours(s.url, key.keyring, { checkDate: false })).resolves.toMatchObject({ signer: key.fingerprint });
    } finally {
      await s.close();
    }
  });

  it("within apt's 10 s tolerance the Date passes; just past it, it does not", async () => {
    const date = new Date(Math.floor(Date.now() / 1000) * 1000 + 60_000);
    const s = await served(resigned(date));
    try {
      await expect(ours(s.url, key.keyring, { now: new Date(date.getTime() - 10_000) })).resolves.toMatchObject({ date });
      await expect(ours(s.url, key.keyring, { now: new Date(date.getTime() - 11_000) })).rejects.toMatchObject({ code: 'RELEASE_NOT_YET_VALID' });
    } finally {
      await s.close();
    }
  });

  it('a Valid-Until in the past: apt "is expired"; INDEX_EXPIRED', async () => {
    const s = await served(resigned(new Date(Date.now() - 7200_000), new Date(Date.now() - 3600_000)));
    try {
      const r = await both(s);
      expect(r.mine).toMatchObject({ code: 'INDEX_EXPIRED' });
      if (r.apt) expect(r.apt).toMatchObject({ ok: false, out: expect.stringContaining('is expired') });
    } finally {
      await s.close();
    }
  });
});

describe('text outside the signed block of an InRelease (apt: SplitClearSignedFile)', () => {
  // apt's SplitClearSignedFile says why on its error stack; apt-get update prints only that the split failed.
  const aptWords = /Splitting up \S+ into data and signature failed|Clearsigned file isn't valid/;
  const cases: [string, (t: string) => string][] = [
    ['text before the signed message', (t) => `Origin: Evil\n${t}`],
    ['an empty line before it', (t) => `\n${t}`],
    ['text after the signature', (t) => `${t}Suite: evil\n`],
    ['an empty line after it', (t) => `${t}\n`],
    ['a second signed message after it', (t) => `${t}${t}`],
    ['a line of the signed text starting with a dash', (t) => t.replace('\nOrigin:', '\n-Origin: x\nOrigin:')],
    [
      'an armor header line starting with a dash',
      (t) => t.replace('-----BEGIN PGP SIGNED MESSAGE-----\n', '-----BEGIN PGP SIGNED MESSAGE-----\n-Hash: SHA256\n'),
    ],
  ];
  for (const [what, change] of cases) {
    it(`${what}: refused by apt and by us (UNSIGNED_TEXT naming the file)`, async () => {
      const s = await served(async (inRel) => writeFile(inRel, change(await readFile(inRel, 'utf8'))));
      try {
        const r = await both(s);
        expect(r.mine).toMatchObject({ code: 'UNSIGNED_TEXT', message: expect.stringContaining(`${s.url}/dists/stable/InRelease: line `) });
        if (r.apt) expect(r.apt).toMatchObject({ ok: false, out: expect.stringMatching(aptWords) });
      } finally {
        await s.close();
      }
    });
  }

  it('trailing blanks on the header line (RFC 9580 7.2) stay accepted, as by apt', async () => {
    const s = await served(async (inRel) =>
      writeFile(inRel, (await readFile(inRel, 'utf8')).replace('-----BEGIN PGP SIGNED MESSAGE-----\n', '-----BEGIN PGP SIGNED MESSAGE-----  \n')),
    );
    try {
      const r = await both(s);
      expect(r.mine).toBeUndefined();
      if (r.apt) expect(r.apt).toMatchObject({ ok: true });
    } finally {
      await s.close();
    }
  });
});
