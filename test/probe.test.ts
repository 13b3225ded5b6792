import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNvidiaSmiXml } from '../src/checks/nvsmi.js';
import { collectProbe } from '../src/probe/collect.js';
import { decodeStatus } from '../src/probe/dpkg.js';
import { parseCudaBanner, parseGpuQuery } from '../src/probe/gpu.js';
import { checkProbeTarget, loadProbe } from '../src/probe/load.js';
import { ProbeError } from '../src/util/errors.js';
import { type BoxProbe, probeSchema, serializeProbe } from '../src/box/probe.js';
import { parseStatus } from '../src/sources/apt/records.js';
import { targetTags } from '../src/sources/pip/tags.js';
import type { Exec } from '../src/sources/source.js';
import { execFile } from '../src/util/exec.js';
import { runCli } from './helpers/cli.js';
import { sha256 } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

const fixture = (p: string) => new URL(`./fixtures/${p}`, import.meta.url);

/** The apt view of a status file: every record with its (non-enumerable) hold flag. */
async function statusRecords(chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>) {
  return (await parseStatus(chunks)).map((r) => ({ ...r, hold: Boolean(r.hold) }));
}

/** A probe of this machine that reads nothing of the tests' surroundings but what is asked. */
async function probeHere(dir: string, o: { venv?: string; hfHome?: string } = {}): Promise<BoxProbe> {
  return collectProbe({ exec: execFile, venv: o.venv ?? join(dir, 'no-venv'), hfHome: o.hfHome ?? join(dir, 'no-models'), stateDirs: [join(dir, 'state')] });
}

function osRelease(): Record<string, string> {
  const text = execFileSync('sh', ['-c', '. /etc/os-release && printf "%s\\n%s\\n" "$ID" "$VERSION_ID"'], { encoding: 'utf8' }).split('\n');
  return { id: text[0]!, version: text[1]! };
}

describe('probe: this machine', () => {
  it('reads OS, arch, dpkg status, python and its tags; nvidia-smi and the rest are absent with a reason; the file is small and round-trips', async () => {
    const dir = await tempDir();
    const p = await probeHere(dir);
    const os = osRelease();
    expect(p.os).toMatchObject({ present: true, id: os.id, versionId: os.version, target: `${os.id}-${os.version}` });
    expect(p.arch.debian).toBe(execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim());
    expect(p.arch.machine).toBe(execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim());
    expect(p.kernel.release).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());

    // dpkg: only installed stanzas and apt's fields, yet apt's view of them is exactly the real file's.
    if (!p.dpkg.present) throw new Error(p.dpkg.reason);
    const whole = await statusRecords(createReadStream('/var/lib/dpkg/status'));
    const text = decodeStatus(p.dpkg.status);
    expect(p.dpkg.packages).toBe(whole.length);
    expect(await statusRecords([text])).toEqual(whole);
    expect(sha256(text)).toBe(p.dpkg.sha256);
    expect(text).not.toMatch(/^(Description|Maintainer|Conffiles):/m);

    // python3 here: the version and the tags its own pip lists.
    if (!p.python.present) throw new Error(p.python.reason);
    expect(p.python.version).toBe(execFileSync('python3', ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).trim());
    const pipTags = JSON.parse(
      execFileSync(
        'python3',
        ['-c', 'import json; from pip._internal.utils.compatibility_tags import get_supported; print(json.dumps([str(t) for t in get_supported()]))'],
        { encoding: 'utf8' },
      ),
    ) as string[];
    expect(p.python).toMatchObject({ tagsFrom: 'pip', tags: pipTags });
    expect(p.venv).toMatchObject({ present: false, reason: expect.stringContaining(join(dir, 'no-venv')) });
    const smi = await execFile('nvidia-smi', ['-L']);
    if (smi.code === 127) expect(p.gpus).toEqual({ present: false, reason: 'nvidia-smi not found (no NVIDIA driver installed)' });
    if (!existsSync('/usr/local/cuda/version.json'))
      expect(p.cuda).toMatchObject({ present: false, reason: expect.stringContaining('/usr/local/cuda/version.json') });
    expect(p.hf).toMatchObject({ present: false, reason: expect.stringContaining('no HF cache') });
    expect(p.bundles).toMatchObject({ present: false, reason: expect.stringContaining('journal') });

    const file = serializeProbe(p);
    expect(Buffer.byteLength(file)).toBeLessThan(1 << 20);
    expect(probeSchema.parse(JSON.parse(file))).toEqual(p);
    await writeFile(join(dir, 'box.json'), file);
    const loaded = await loadProbe(join(dir, 'box.json'));
    expect(loaded.probe).toEqual(p);
    expect(loaded.ref).toMatchObject({ digest: `sha256:${sha256(file)}`, hostname: p.hostname, created: p.created });
  });

  it('a venv whose python has neither pip nor packaging: tags from our own tag code, the same set pip lists for that interpreter', async () => {
    const dir = await tempDir();
    const venv = join(dir, 'venv');
    execFileSync('/usr/bin/python3', ['-m', 'venv', '--without-pip', venv]);
    const p = await probeHere(dir, { venv });
    expect(p.venv).toMatchObject({ present: true, path: venv, distributions: [] });
    if (!p.python.present) throw new Error(p.python.reason);
    expect(p.python).toMatchObject({ path: join(venv, 'bin', 'python'), tagsFrom: 'vault-bundle', implementation: 'cp' });
    const [version, glibc] = execFileSync(
      '/usr/bin/python3',
      ['-c', 'import os, platform; print(platform.python_version()); print(os.confstr("CS_GNU_LIBC_VERSION").split()[1])'],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n');
    expect(p.python).toMatchObject({ version, glibc });
    expect(p.python.tags).toEqual(targetTags({ python: version!, abi: p.python.abi, glibc: glibc!, arch: p.python.machine }));
    // Debian's pip for the same interpreter (its vendored packaging may order linux_<arch> differently).
    const pip = JSON.parse(
      execFileSync(
        '/usr/bin/python3',
        ['-c', 'import json; from pip._internal.utils.compatibility_tags import get_supported; print(json.dumps([str(t) for t in get_supported()]))'],
        { encoding: 'utf8' },
      ),
    ) as string[];
    expect(new Set(p.python.tags)).toEqual(new Set(pip));
  });

  it('lists the HF cache (a link whose blob never arrived is not a file) and the bundles the journal says were installed', async () => {
    const dir = await tempDir();
    const repo = join(dir, 'models', 'hub', 'models--org--tiny');
    const commit = 'a'.repeat(40);
    await mkdir(join(repo, 'blobs'), { recursive: true });
    await mkdir(join(repo, 'snapshots', commit, 'sub'), { recursive: true });
    await mkdir(join(repo, 'refs'), { recursive: true });
    await writeFile(join(repo, 'refs', 'main'), commit);
    await writeFile(join(repo, 'blobs', 'b1'), '{}');
    await symlink('../../blobs/b1', join(repo, 'snapshots', commit, 'config.json'));
    await symlink('../../../blobs/missing', join(repo, 'snapshots', commit, 'sub', 'model.safetensors'));
    await writeFile(join(repo, 'snapshots', commit, 'sub', 'real.txt'), 'x');
    await mkdir(join(dir, 'models', 'hub', '.locks'));
    const state = join(dir, 'state');
    await mkdir(state);
    const entry = (name: string, version: string, dryRun: boolean, time: string) =>
      JSON.stringify({ time, bundle: { name, version, path: `/media/${name}` }, dryRun, results: [] });
    await writeFile(
      join(state, 'journal.jsonl'),
      [
        entry('gpu', '1.0.0', true, '2026-11-01T00:00:00.000Z'),
        entry('gpu', '1.0.0', false, '2026-11-02T00:00:00.000Z'),
        entry('gpu', '1.1.0', false, '2026-11-03T00:00:00.000Z'),
        entry('gpu', '1.0.0', false, '2026-11-04T00:00:00.000Z'),
        '{"torn',
      ].join('\n'),
    );
    const p = await collectProbe({ exec: execFile, venv: join(dir, 'no-venv'), hfHome: join(dir, 'models'), stateDirs: [join(dir, 'nothing'), state] });
    expect(p.hf).toEqual({
      present: true,
      home: join(dir, 'models'),
      repos: [{ repo: 'org/tiny', type: 'model', refs: { main: commit }, snapshots: [{ commit, files: ['config.json', 'sub/real.txt'] }] }],
    });
    expect(p.bundles).toEqual({
      present: true,
      journal: join(state, 'journal.jsonl'),
      installed: [
        { name: 'gpu', version: '1.0.0', installedAt: '2026-11-04T00:00:00.000Z', path: '/media/gpu' },
        { name: 'gpu', version: '1.1.0', installedAt: '2026-11-03T00:00:00.000Z', path: '/media/gpu' },
      ],
    });
  });
});

// The Ubuntu 24.04 H200 box (shared/design/samples/ubuntu-24.04-h200-box): its os-release, dpkg status and
// wheel tags as recorded there; nvidia-smi's query lines carry the values its own query printed (NVIDIA H200,
// driver 580.159.04, 143771 MiB), the banner the CUDA version of its nvidia-smi -q -x (13.0).
const H200_OS_RELEASE = `PRETTY_NAME="Ubuntu 24.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.3 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble
`;
const H200_QUERY = 'NVIDIA H200, 580.159.04, 143771 MiB\n';
const H200_BANNER = `Sat Nov 29 03:48:18 2026
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 580.159.04             Driver Version: 580.159.04     CUDA Version: 13.0     |
+-----------------------------------------------------------------------------------------+
`;

/** Recorded outputs by command line; anything else is "not found" (exit 127), as on a box without it. */
function recorded(outputs: Record<string, { code?: number; stdout?: string; stderr?: string }>): Exec {
  return async (cmd, args) => {
    const key = [cmd, ...args.filter((a) => !a.includes('\n'))].join(' ');
    const hit = outputs[key] ?? outputs[cmd];
    if (!hit) return { code: 127, stdout: '', stderr: `${cmd}: not found` };
    return { code: hit.code ?? 0, stdout: hit.stdout ?? '', stderr: hit.stderr ?? '' };
  };
}

async function h200Box(dir: string, smi: Record<string, { code?: number; stdout?: string; stderr?: string }>): Promise<BoxProbe> {
  const tags = JSON.parse(await readFile(fixture('ubuntu-24.04-h200.python-tags.json'), 'utf8')) as string[];
  const python = {
    executable: '/usr/bin/python3',
    version: '3.12.3',
    prefix: '/usr',
    base_prefix: '/usr',
    machine: 'x86_64',
    implementation: 'cpython',
    soabi: 'cpython-312-x86_64-linux-gnu',
    abiflags: '',
    libc: 'glibc 2.39',
    tags,
    tagsFrom: 'pip',
    tagsError: null,
  };
  await writeFile(join(dir, 'os-release'), H200_OS_RELEASE);
  return collectProbe({
    exec: recorded({ 'dpkg --print-architecture': { stdout: 'amd64\n' }, python3: { stdout: `${JSON.stringify(python)}\n` }, ...smi }),
    venv: join(dir, 'no-venv'),
    hfHome: join(dir, 'no-models'),
    stateDirs: [join(dir, 'state')],
    files: { osRelease: join(dir, 'os-release'), dpkgStatus: fileURLPath(fixture('ubuntu-24.04-h200.dpkg-status')), cudaVersion: join(dir, 'none.json') },
  });
}

function fileURLPath(u: URL): string {
  return decodeURIComponent(u.pathname);
}

describe('probe: a recorded H200 box', () => {
  it('parses nvidia-smi, and its target is ubuntu-24.04 amd64 with Python 3.12', async () => {
    const dir = await tempDir();
    const p = await h200Box(dir, {
      'nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader': { stdout: H200_QUERY },
      'nvidia-smi': { stdout: H200_BANNER },
    });
    expect(p.gpus).toEqual({ present: true, devices: [{ name: 'NVIDIA H200', driverVersion: '580.159.04', memoryMiB: 143771 }], cudaDriver: '13.0' });
    // The same box's nvidia-smi -q -x says the same driver and CUDA.
    const xml = parseNvidiaSmiXml(await readFile(fixture('checks/h200-nvidia-smi-q.xml'), 'utf8'));
    expect([xml.driverVersion, xml.cudaVersion]).toEqual(['580.159.04', '13.0']);
    expect(p.os).toMatchObject({ present: true, target: 'ubuntu-24.04', codename: 'noble', prettyName: 'Ubuntu 24.04.3 LTS' });
    expect(p.dpkg).toMatchObject({ present: true, packages: 440 });
    expect(p.python).toMatchObject({ present: true, version: '3.12.3', abi: ['cp312'], glibc: '2.39', tagsFrom: 'pip' });
    if (p.dpkg.present) expect(decodeStatus(p.dpkg.status)).toMatch(/^Package: jq\nStatus: install ok installed\n/m);
    const file = join(dir, 'box.json');
    await writeFile(file, serializeProbe(p));
    const loaded = await loadProbe(file);
    expect(() => checkProbeTarget(loaded, { os: 'ubuntu-24.04', arch: 'amd64', python: '3.12' }, 'm.yaml')).not.toThrow();
    let err: ProbeError | undefined;
    try {
      checkProbeTarget(loaded, { os: 'ubuntu-24.04', arch: 'amd64', python: '3.11' }, 'm.yaml');
    } catch (e) {
      err = e as ProbeError;
    }
    expect(err).toBeInstanceOf(ProbeError);
    expect(err).toMatchObject({ code: 'PROBE_MISMATCH', exitCode: 2, hint: expect.stringContaining('target.python: "3.12"') });
    expect(err!.message).toContain(`${file}: python.version`);
    expect(() => checkProbeTarget(loaded, { os: 'debian-12', arch: 'amd64' }, 'm.yaml')).toThrow(/os: the box .* has ubuntu-24\.04, m\.yaml targets debian-12/);
  });

  it('nvidia-smi that cannot reach the driver is recorded with its message; several GPUs parse', async () => {
    const dir = await tempDir();
    const p = await h200Box(dir, {
      'nvidia-smi': {
        code: 9,
        stdout:
          "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n\n",
      },
    });
    expect(p.gpus).toEqual({
      present: false,
      reason:
        "nvidia-smi failed (exit 9): NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
    });
    expect(parseGpuQuery(`${H200_QUERY}NVIDIA H200, 580.159.04, 143771 MiB\nNVIDIA RTX A6000, Ada, 535.54.03, [N/A]\n`)).toEqual([
      { name: 'NVIDIA H200', driverVersion: '580.159.04', memoryMiB: 143771 },
      { name: 'NVIDIA H200', driverVersion: '580.159.04', memoryMiB: 143771 },
      { name: 'NVIDIA RTX A6000, Ada', driverVersion: '535.54.03' },
    ]);
    expect(parseCudaBanner('no banner')).toBeUndefined();
  });
});

describe('probe: bad files', () => {
  it('name the file and the field', async () => {
    const dir = await tempDir();
    const p = await probeHere(dir);
    const write = async (name: string, data: string) => {
      await writeFile(join(dir, name), data);
      return join(dir, name);
    };
    const fails = async (path: string) =>
      loadProbe(path).then(
        () => undefined,
        (e: unknown) => e as ProbeError,
      );
    expect(await fails(join(dir, 'missing.json'))).toMatchObject({
      code: 'PROBE_READ',
      message: expect.stringContaining(`${join(dir, 'missing.json')}: no such file`),
    });
    expect(await fails(await write('cut.json', serializeProbe(p).slice(0, 500)))).toMatchObject({
      code: 'PROBE_READ',
      message: expect.stringContaining('cut.json is not valid JSON'),
    });
    expect(await fails(await write('lock.json', '{"lockVersion": 1}'))).toMatchObject({
      code: 'PROBE_FIELD',
      message: expect.stringMatching(/lock\.json: schema: expected "vault-bundle-probe\/v1", found null/),
    });
    const noTags = JSON.parse(serializeProbe(p)) as { python: Record<string, unknown> };
    delete noTags.python.tags;
    expect(await fails(await write('tags.json', JSON.stringify(noTags)))).toMatchObject({
      code: 'PROBE_FIELD',
      exitCode: 2,
      message: expect.stringContaining('tags.json: python.tags:'),
    });
    const edited = JSON.parse(serializeProbe(p)) as { dpkg: { sha256: string } };
    edited.dpkg.sha256 = '0'.repeat(64);
    expect(await fails(await write('edited.json', JSON.stringify(edited)))).toMatchObject({
      code: 'PROBE_FIELD',
      message: expect.stringContaining('edited.json: dpkg.status does not match dpkg.sha256'),
    });
    // A hostile box: a status that inflates past 64 MiB (its sha256 made to match) is refused, not inflated.
    const bomb = JSON.parse(serializeProbe(p)) as { dpkg: { status: string; sha256: string } };
    const huge = Buffer.alloc(65 * 1024 * 1024, 0x41);
    bomb.dpkg.status = gzipSync(huge).toString('base64');
    bomb.dpkg.sha256 = createHash('sha256').update(huge).digest('hex');
    expect(await fails(await write('bomb.json', JSON.stringify(bomb)))).toMatchObject({
      code: 'PROBE_FIELD',
      message: expect.stringContaining('bomb.json: dpkg.status: not gzip+base64'),
    });
    expect(await fails(await write('big.json', ' '.repeat(17 * 1024 * 1024)))).toMatchObject({
      code: 'PROBE_READ',
      message: expect.stringContaining('a probe file is well under 16 MiB'),
    });
  });
});

describe('probe: cli', () => {
  it('probe writes the file and a summary; build --target with a bad file exits 2 naming it, without a stack', async () => {
    const dir = await tempDir();
    const out = join(dir, 'box.json');
    const r = await runCli(['probe', '--out', out, '--venv', join(dir, 'venv'), '--hf-home', join(dir, 'models'), '--state-dir', join(dir, 'state')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+dpkg\s+\d+ installed packages$/m);
    expect(r.stdout).toMatch(/^\s+venv\s+absent: no virtual environment at .*venv/m);
    expect(r.stdout).toMatch(/^wrote .*box\.json \(\d+(\.\d+)? KiB\); give it to "vault-bundle build <manifest> --target"/m);
    const p = (await loadProbe(out)).probe;
    expect(p.venv.present).toBe(false);

    await writeFile(join(dir, 'm.yaml'), 'name: t\nversion: 1.0.0\ntarget: {os: ubuntu-24.04, arch: amd64}\nfiles: []\n');
    await writeFile(join(dir, 'bad.json'), '{"schema": "vault-bundle-probe/v1", "hostname": 3}');
    const b = await runCli(['build', join(dir, 'm.yaml'), '--target', join(dir, 'bad.json'), '--runtime', 'none', '--out', join(dir, 'o')]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(new RegExp(`^error: ${join(dir, 'bad.json')}: tool: `, 'm'));
    expect(b.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    // This machine is Debian; a manifest for Ubuntu refuses its probe, with a hint.
    const l = await runCli(['lock', join(dir, 'm.yaml'), '--target', out]);
    expect(l.code).toBe(2);
    expect(l.stderr).toMatch(/^error: .*box\.json: os: the box \(.*\) has debian-12, .*m\.yaml targets ubuntu-24\.04$/m);
    expect(l.stderr).toMatch(/^hint: set target\.os: debian-12 in the manifest, or probe the box the bundle is for$/m);
  });
});
