import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ZipFile, readZipMember } from '../src/util/zip.js';
import { tempDir } from './helpers/tmp.js';

describe('zip reader', () => {
  it('reads a real wheel member, deflated', async () => {
    const wheel = readdirSync('/usr/share/python-wheels').find((f) => f.startsWith('setuptools-'));
    expect(wheel).toBeDefined();
    const m = await readZipMember(join('/usr/share/python-wheels', wheel!), (n) => /\.dist-info\/METADATA$/.test(n));
    expect(m?.data.toString('utf8')).toMatch(/^Metadata-Version: /m);
    expect(m?.data.toString('utf8')).toMatch(/^Name: setuptools$/m);
  });

  it('lists a zip64 archive (more than 65,535 members, as Python writes it) in one pass and reads any member', async () => {
    const dir = await tempDir();
    const file = join(dir, 'all.zip');
    // Python's zipfile switches to zip64 records past 65,535 members, as the big OSV exports need.
    execFileSync('/usr/bin/python3', [
      '-c',
      `import zipfile, json
with zipfile.ZipFile(${JSON.stringify(file)}, 'w', zipfile.ZIP_DEFLATED) as z:
    for i in range(70000):
        z.writestr(f'r/{i:05d}.json', json.dumps({'id': f'TEST-{i}', 'modified': '2024-01-01T00:00:00Z'}))`,
    ]);
    const zip = await ZipFile.open(file);
    try {
      expect(zip.entries).toHaveLength(70000);
      const last = zip.entries.at(-1)!;
      expect(last.name).toBe('r/69999.json');
      expect(JSON.parse((await zip.read(last, 1 << 20)).toString('utf8'))).toEqual({ id: 'TEST-69999', modified: '2024-01-01T00:00:00Z' });
      await expect(zip.read(last, 10)).rejects.toThrow(/larger than 10 bytes/);
    } finally {
      await zip.close();
    }
  });

  it('refuses a member whose recorded size does not fit the archive (a crafted zip must not abort the process)', async () => {
    const dir = await tempDir();
    const file = join(dir, 'w.zip');
    execFileSync('/usr/bin/python3', ['-c', `import zipfile\nwith zipfile.ZipFile(${JSON.stringify(file)}, 'w') as z: z.writestr('a.txt', 'hello')`]);
    // Patch the central directory's compressed size of the only member to 0xF0000000.
    const bytes = readFileSync(file);
    const cd = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    bytes.writeUInt32LE(0xf0000000, cd + 20);
    writeFileSync(file, bytes);
    const zip = await ZipFile.open(file);
    try {
      await expect(zip.read(zip.entries[0]!, 1 << 30)).rejects.toThrow(/compressed size does not fit/);
    } finally {
      await zip.close();
    }
  });

  it('refuses what is not a zip, naming why', async () => {
    const dir = await tempDir();
    const file = join(dir, 'x.zip');
    execFileSync('sh', ['-c', `printf 'not a zip at all' > ${file}`]);
    await expect(ZipFile.open(file)).rejects.toThrow(/no end of central directory/);
  });
});
