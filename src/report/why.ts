import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { INDEX } from '../bundle/layout.js';
import { defaultLockPath, readLock } from '../lock/lock.js';
import type { Locked } from '../sources/source.js';
import { UsageError } from '../util/errors.js';

/** The chain of dependents that pulled a package in, from the package up to what was requested. */
export async function whyPulled(from: string, pkg: string): Promise<{ chain: string[][] }> {
  const artifacts = await loadArtifacts(from);
  const matches = artifacts.filter((a) => a.name === pkg || a.id === pkg);
  if (matches.length === 0) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `${pkg} is not in ${from}`,
      subject: pkg,
      hint: 'give the package name as it appears in the lock (vault-bundle inspect lists them)',
    });
  }
  const byId = new Map(artifacts.map((a) => [a.id, a]));
  const chain = matches.map((a) => {
    const out: string[] = [];
    const seen = new Set<string>();
    let cur: Locked | undefined = a;
    while (cur && !seen.has(cur.id)) {
      seen.add(cur.id);
      const pulled: string = cur.meta?.pulledBy ?? '';
      if (pulled === '(requested)' || pulled === '') {
        out.push(`${cur.id} (requested)`);
        break;
      }
      const [by = '', field = ''] = pulled.split(' ');
      out.push(`${cur.id} ← ${field} of`);
      cur = byId.get(by);
      if (!cur) out.push(by);
    }
    return out;
  });
  return { chain };
}

async function loadArtifacts(from: string): Promise<Locked[]> {
  const st = await stat(from).catch(() => undefined);
  if (st?.isDirectory()) return (JSON.parse(await readFile(join(from, INDEX), 'utf8')) as { artifacts: Locked[] }).artifacts;
  if (/\.ya?ml$/i.test(from)) return (await readLock(defaultLockPath(from))).artifacts;
  return (await readLock(from)).artifacts;
}
