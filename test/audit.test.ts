import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type AuditFinding, auditIndex, severityOf } from '../src/audit/audit.js';
import { cvssScore } from '../src/audit/cvss.js';
import { affects, debEcosystem, debSource, queriesOf } from '../src/audit/match.js';
import { dpkgOrder, pep440Order } from '../src/audit/order.js';
import { parseOsvText } from '../src/audit/osv.js';
import { readAudit } from '../src/report/audit.js';
import type { BundleIndex } from '../src/bundle/index.js';
import { auditBundle, fails } from '../src/audit/bundle.js';
import type { Locked } from '../src/sources/source.js';
import { UsageError } from '../src/util/errors.js';
import { makeKey, serveDir, writeRelease } from './helpers/apt-repo.js';
import { buildIn } from './helpers/build.js';
import { runCli } from './helpers/cli.js';
import { debianMirror } from './helpers/apt-iso.js';
import { tempDir } from './helpers/tmp.js';

// Real OSV records (test/fixtures/osv/README.md says where each comes from).
const OSV = fileURLToPath(new URL('./fixtures/osv', import.meta.url));
const SYSTEM_WHEELS = '/usr/share/python-wheels';
const SETUPTOOLS = `${SYSTEM_WHEELS}/setuptools-66.1.1-py3-none-any.whl`;
// Packages indexes are content-addressed: one cache for every test that reads the Debian mirror.
const SHARED_CACHE = join(tmpdir(), 'vault-bundle-test-cache');

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function art(kind: Locked['kind'], name: string, version: string, o: { purl?: string; meta?: Record<string, string> } = {}): Locked {
  return {
    kind,
    id: `${kind}:${name}@${version}${kind === 'apt' ? ':amd64' : ''}`,
    name,
    version,
    digest: `sha256:${sha256(`${kind}${name}${version}`)}`,
    size: 1,
    url: `https://example.org/${name}`,
    purl: o.purl ?? (kind === 'pip' ? `pkg:pypi/${name}@${version}` : `pkg:deb/debian/${name}@${version}?arch=amd64&distro=bookworm`),
    provenance: { kind: 'index-hash', index: 'https://example.org' },
    ...(o.meta ? { meta: o.meta } : {}),
  };
}

function index(artifacts: Locked[], os = 'debian-12'): BundleIndex {
  return {
    schema: 'vault-bundle/v1',
    name: 'audited',
    version: '1.0.0',
    created: '2026-11-30T00:00:00.000Z',
    tool: { name: 'vault-bundle', version: '0.1.0' },
    manifest: { path: 'm.yaml', inputsDigest: `sha256:${sha256('m')}` },
    target: { os, arch: 'amd64', python: '3.12' },
    artifacts,
  };
}

/** A folder of OSV records written from objects (synthetic records for the corner cases only). */
async function osvDir(records: object[]): Promise<string> {
  const dir = await tempDir('vb-osv');
  for (const r of records) await writeFile(join(dir, `${(r as { id: string }).id}.json`), JSON.stringify(r));
  return dir;
}

/** The fixture folder as a zip: the zip CLI when present, else Python's zipfile. */
async function zipOf(dir: string, out: string): Promise<string> {
  try {
    execFileSync('zip', ['-q', '-r', out, '.'], { cwd: dir });
  } catch {
    execFileSync('/usr/bin/python3', ['-c', 'import shutil,sys; shutil.make_archive(sys.argv[1][:-4], "zip", sys.argv[2])', out, dir]);
  }
  return out;
}

const ids = (fs: AuditFinding[]) => fs.map((f) => `${f.id} ${f.artifact}`).sort();

describe('CVSS base scores', () => {
  it("v3.1 and v3.0 by the FIRST formula, v2 by its guide, v4 by FIRST's macro-vector table", () => {
    const s = (v: string) => cvssScore(v)?.score;
    // The vectors of the fixture records, and the corners of the formula (scope changed, zero impact, rounding).
    expect(cvssScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H')).toMatchObject({ score: 8.8, severity: 'high', version: '3.1' });
    expect(cvssScore('CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H')).toMatchObject({ score: 5.5, severity: 'medium' });
    expect(s('CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H')).toBe(8.8);
    expect(s('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H')).toBe(7.5);
    expect(cvssScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toMatchObject({ score: 9.8, severity: 'critical' });
    expect(s('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H')).toBe(10);
    expect(s('CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N')).toBe(5.4);
    expect(s('CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N')).toBe(1.6);
    expect(cvssScore('CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N')).toMatchObject({ score: 0, severity: 'none', version: '3.0' });
    expect(cvssScore('AV:N/AC:L/Au:N/C:P/I:P/A:P')).toMatchObject({ score: 7.5, severity: 'high', version: '2.0' });
    expect(cvssScore('AV:N/AC:L/Au:N/C:C/I:C/A:C')).toMatchObject({ score: 10, severity: 'high' }); // v2 has no "critical"
    // v4: FIRST's calculator gives these (two independent libraries agreed on 4922 of 5000 random base vectors;
    // the other 78 differ only where a score sits on .x5 and FIRST rounds half up after adding 1e-6, as here).
    expect(cvssScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N')).toMatchObject({ version: '4.0', score: 9.3, severity: 'critical' });
    expect(cvssScore('CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N')).toMatchObject({ score: 6.9, severity: 'medium' });
    expect(s('CVSS:4.0/AV:A/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H')).toBe(9.4);
    expect(cvssScore('CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:P/VC:L/VI:L/VA:N/SC:L/SI:L/SA:N')).toMatchObject({ score: 2.1, severity: 'low' });
    expect(s('CVSS:4.0/AV:L/AC:L/AT:P/PR:N/UI:N/VC:N/VI:N/VA:L/SC:H/SI:H/SA:N')).toBe(5.1); // on the rounding edge
    expect(s('CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N/E:U')).toBe(4.6); // threat metric: CVSS-BT
    expect(cvssScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N')).toMatchObject({ score: 0, severity: 'none' });
    // Incomplete or misspelt v4 vectors are no score at all (the calculator alone would read them as 0).
    expect(cvssScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H')).toBeUndefined();
    expect(cvssScore('CVSS:4.0/AV:Q/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N')).toBeUndefined();
    expect(cvssScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:Q')).toBeUndefined();
    expect(cvssScore('CVSS:3.1/AV:N/AC:L')).toBeUndefined();
    expect(cvssScore('not a vector')).toBeUndefined();
  });
});

describe('matching rules', () => {
  it('maps a .deb to its source package and version, and its repository to an OSV ecosystem', () => {
    expect(debSource(art('apt', 'jq', '1.6-2.1+deb12u1'))).toEqual({ name: 'jq', version: '1.6-2.1+deb12u1' });
    expect(debSource(art('apt', 'libjq1', '1.6-2.1+deb12u1', { meta: { Source: 'jq' } }))).toEqual({ name: 'jq', version: '1.6-2.1+deb12u1' });
    // A binNMU: the binary is rebuilt, the source version has no "+bN".
    expect(debSource(art('apt', 'libxrandr2', '2:1.5.2-2+b1', { meta: { Source: 'libxrandr' } }))).toEqual({ name: 'libxrandr', version: '2:1.5.2-2' });
    // "src (version)": the binary's version is not the source's.
    expect(debSource(art('apt', 'libgcc-s1', '12.2.0-14', { meta: { Source: 'gcc-12 (12.2.0-14+deb12u1)' } }))).toEqual({
      name: 'gcc-12',
      version: '12.2.0-14+deb12u1',
    });

    const eco = (purl: string, os = 'ubuntu-24.04') => debEcosystem(art('apt', 'x', '1', { purl }), { os });
    expect(eco('pkg:deb/debian/jq@1.6-2.1?arch=amd64&distro=bookworm')).toEqual({ ecosystem: 'Debian:12' });
    expect(eco('pkg:deb/debian/jq@1.6-2.1?arch=amd64&distro=bookworm-security')).toEqual({ ecosystem: 'Debian:12' });
    expect(eco('pkg:deb/debian/jq@1.7.1-6?arch=amd64&distro=trixie')).toEqual({ ecosystem: 'Debian:13' });
    expect(eco('pkg:deb/ubuntu/jq@1.7.1-3build1?arch=amd64&distro=noble-updates')).toEqual({ ecosystem: 'Ubuntu:24.04:LTS' });
    expect(eco('pkg:deb/ubuntu/jq@1.7.1-3?arch=amd64&distro=oracular')).toEqual({ ecosystem: 'Ubuntu:24.10' });
    expect(eco('pkg:deb/debian-backports/jq@1.7.1-3~bpo12%2B1?arch=amd64&distro=bookworm-backports')).toEqual({ ecosystem: 'Debian:12' });
    expect(eco('pkg:deb/debian/jq@1.6-2.1?arch=amd64&distro=debian-12')).toEqual({ ecosystem: 'Debian:12' });
    expect(eco('pkg:deb/ubuntu/jq@1.6-2.1?arch=amd64&distro=22.04')).toEqual({ ecosystem: 'Ubuntu:22.04:LTS' });
    // No distro in the purl: the bundle's target decides.
    expect(eco('pkg:deb/debian/jq@1.6-2.1?arch=amd64', 'debian-12')).toEqual({ ecosystem: 'Debian:12' });
    expect(eco('pkg:deb/ubuntu/jq@1.6-2.1?arch=amd64', 'ubuntu-22.04')).toEqual({ ecosystem: 'Ubuntu:22.04:LTS' });
    expect(eco('pkg:deb/nvidia/cuda-toolkit-12-4@12.4.1-1?arch=amd64&distro=%2F')).toMatchObject({ why: expect.stringContaining('"nvidia"') });

    const { queries, unchecked } = queriesOf(
      [art('apt', 'jq', '1.6-2.1'), art('pip', 'Setuptools', '66.1.1'), art('hf', 'model.safetensors', 'abc'), art('file', 'keyring', '1')],
      { os: 'debian-12' },
    );
    expect(queries.map((q) => `${q.ecosystem} ${q.name} ${q.version}`)).toEqual(['Debian:12 jq 1.6-2.1', 'PyPI setuptools 66.1.1']);
    expect(unchecked.map((u) => u.artifact)).toEqual(['hf:model.safetensors@abc', 'file:keyring@1']);
  });

  it('evaluates ranges as the OSV schema does: introduced, fixed, last_affected, limit, versions; GIT skipped', () => {
    const r = (events: object[], type = 'ECOSYSTEM') => ({ ranges: [{ type, events }] }) as Parameters<typeof affects>[0];
    const fixedAt = r([{ introduced: '0' }, { fixed: '1.6-2.1+deb12u2' }]);
    expect(affects(fixedAt, '1.6-2.1+deb12u1', dpkgOrder)).toEqual({ by: 'range', fixed: '1.6-2.1+deb12u2' });
    expect(affects(fixedAt, '1.6-2.1+deb12u2', dpkgOrder)).toBeUndefined(); // the fixed version itself
    expect(affects(fixedAt, '1.6-2.1+deb12u3', dpkgOrder)).toBeUndefined();
    expect(affects(fixedAt, '1.6-2.1+deb12u1~bpo1', dpkgOrder)).toMatchObject({ by: 'range' }); // ~ sorts first
    expect(affects(fixedAt, '1:1.0-1', dpkgOrder)).toBeUndefined(); // an epoch beats any upstream version
    // Two windows, events out of order: sorted before they are evaluated.
    const two = r([{ fixed: '2.0' }, { introduced: '3.0' }, { introduced: '1.0' }, { fixed: '3.1' }]);
    expect(['0.9', '1.0', '1.5', '2.0', '2.5', '3.0', '3.0.5', '3.1'].filter((v) => affects(two, v, pep440Order))).toEqual(['1.0', '1.5', '3.0', '3.0.5']);
    expect(affects(two, '1.5', pep440Order)).toMatchObject({ fixed: '2.0' });
    const last = r([{ introduced: '1.0' }, { last_affected: '1.4' }]);
    expect(['1.0rc1', '1.0', '1.4', '1.4.post1', '1.5'].map((v) => Boolean(affects(last, v, pep440Order)))).toEqual([false, true, true, false, false]); // 1.4.post1 is past 1.4
    expect(affects(last, '1.4', pep440Order)).toEqual({ by: 'range' }); // no fix named
    // A limit of "*" is the schema's infinity, not an unreadable version.
    expect(affects(r([{ introduced: '0' }, { limit: '*' }], 'SEMVER'), '1.0.0', pep440Order)).toEqual({ by: 'range' });
    expect(affects(r([{ introduced: '0' }, { limit: '*' }]), '9.9', pep440Order)).toEqual({ by: 'range' });
    // PEP 440: a wheel's local label (PyTorch's +cu124) is ignored against a record that names none.
    const torch = { versions: ['2.5.1'], ...r([{ introduced: '2.0' }, { last_affected: '2.5.1' }]) };
    expect(affects(torch, '2.5.1+cu124', pep440Order)).toEqual({ by: 'range' });
    expect(affects({ versions: ['2.5.1'] }, '2.5.1+cu124', pep440Order)).toEqual({ by: 'versions' });
    expect(affects(r([{ introduced: '0' }, { fixed: '2.5.1' }]), '2.5.1+cu124', pep440Order)).toBeUndefined();
    const limited = r([{ introduced: '0' }, { limit: '2.0' }]);
    expect(['1.9', '2.0', '2.1'].map((v) => Boolean(affects(limited, v, pep440Order)))).toEqual([true, false, false]);
    // PEP 440: 70.0 is 70.0.0, a pre-release sorts before its release.
    expect(affects(r([{ introduced: '0' }, { fixed: '70.0.0' }]), '70.0', pep440Order)).toBeUndefined();
    expect(affects(r([{ introduced: '0' }, { fixed: '70.0.0' }]), '70.0.0rc1', pep440Order)).toBeDefined();
    // SEMVER ranges use semver precedence whatever the ecosystem.
    const sem = r([{ introduced: '1.2.0' }, { fixed: '1.10.0' }], 'SEMVER');
    expect(['1.1.9', '1.2.0', '1.9.0', '1.10.0-rc.1', '1.10.0'].map((v) => Boolean(affects(sem, v, pep440Order)))).toEqual([false, true, true, true, false]);
    // GIT ranges name commits, not versions: skipped; explicit versions still count, compared in the ecosystem's order.
    const git = { ranges: [{ type: 'GIT', repo: 'https://x', events: [{ introduced: '0' }, { fixed: 'abc123' }] }], versions: ['66.1.1', '1.0'] };
    expect(affects(git, '66.1.1', pep440Order)).toEqual({ by: 'versions', skipped: ['GIT'] });
    expect(affects(git, '1.0.0', pep440Order)).toMatchObject({ by: 'versions' });
    expect(affects(git, '66.1.2', pep440Order)).toBeUndefined();
    // A range whose versions the ecosystem cannot read is not guessed at.
    expect(affects(r([{ introduced: '0' }, { fixed: 'not-a-version!' }]), '1.0', pep440Order)).toBeUndefined();
  });

  it('severity: the distribution or database rating first, then CVSS; the score is always the CVSS one', async () => {
    const [ubuntu] = parseOsvText(await readFile(join(OSV, 'ubuntu/UBUNTU-CVE-2023-50268.json'), 'utf8'), 'u');
    expect(severityOf(ubuntu!, ubuntu!.affected![0]!)).toMatchObject({ severity: 'medium', source: 'Ubuntu priority', cvss: { score: 6.2 } });
    const [debian] = parseOsvText(await readFile(join(OSV, 'debian/DEBIAN-CVE-2026-54679.json'), 'utf8'), 'd');
    // urgency "not yet assigned" says nothing: the CVSS vector rates it.
    expect(severityOf(debian!, debian!.affected![0]!)).toMatchObject({ severity: 'medium', source: 'CVSS 3.1', cvss: { score: 5.5 } });
    const rated = { ...debian!.affected![0]!, ecosystem_specific: { urgency: 'unimportant' } };
    expect(severityOf(debian!, rated)).toMatchObject({ severity: 'low', source: 'Debian urgency', cvss: { score: 5.5 } });
    const [ghsa] = parseOsvText(await readFile(join(OSV, 'pypi/GHSA-r9hx-vwmv-q579.json'), 'utf8'), 'g');
    expect(severityOf(ghsa!, ghsa!.affected![0]!)).toMatchObject({ severity: 'high', source: 'database_specific.severity', cvss: { score: 7.5 } });
    expect(severityOf({ id: 'X-1' }, {})).toEqual({ severity: 'unknown', source: 'none' });
    // A record with v3.1 and v4 vectors and no rating of its own: the v4 one, as GHSA and NVD show it.
    const both = {
      id: 'X-2',
      severity: [
        { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' },
        { type: 'CVSS_V4', score: 'CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N' },
      ],
    };
    expect(severityOf(both, {})).toMatchObject({ severity: 'medium', source: 'CVSS 4.0', cvss: { score: 6.9 } });
    expect(fails({ severity: 'unknown' }, 'medium')).toBe(true);
    expect(fails({ severity: 'unknown' }, 'high')).toBe(false);
    expect(fails({ severity: 'low' }, 'any')).toBe(true);
    expect(fails({ severity: 'critical' }, 'never')).toBe(false);
  });

  it('matches synthetic bundles: source packages, binNMUs, ecosystems, withdrawn records, a fixed version', async () => {
    const osv = await osvDir([
      {
        id: 'DEBIAN-CVE-2099-0001',
        affected: [
          {
            package: { ecosystem: 'Debian:12', name: 'glibc' },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.36-9+deb12u8' }] }],
            ecosystem_specific: { urgency: 'high' },
          },
          { package: { ecosystem: 'Debian:13', name: 'glibc' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.41-1' }] }] },
        ],
      },
      {
        id: 'DSA-9999-1',
        upstream: ['CVE-2099-0002'],
        affected: [
          { package: { ecosystem: 'Debian', name: 'libxrandr' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2:1.5.2-3' }] }] },
        ],
      },
      {
        id: 'GHSA-gone-gone-gone',
        withdrawn: '2099-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'PyPI', name: 'setuptools' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }] }],
      },
      { id: 'PYSEC-2099-1', affected: [{ package: { ecosystem: 'PyPI', name: 'Typing_Extensions' }, versions: ['4.12.2'] }] },
    ]);
    const bundle = index([
      art('apt', 'libc6', '2.36-9+deb12u7', { meta: { Source: 'glibc' } }),
      art('apt', 'libc-bin', '2.36-9+deb12u8', { meta: { Source: 'glibc' } }), // the fixed version: no finding
      art('apt', 'libxrandr2', '2:1.5.2-2+b1', { meta: { Source: 'libxrandr' } }),
      art('apt', 'libc6', '2.41-12', { purl: 'pkg:deb/debian/libc6@2.41-12?arch=arm64&distro=trixie', meta: { Source: 'glibc' } }),
      art('pip', 'setuptools', '66.1.1'),
      art('pip', 'typing-extensions', '4.12.2'),
    ]);
    bundle.artifacts[3] = { ...bundle.artifacts[3]!, id: 'apt:libc6@2.41-12:arm64' };
    const r = await auditIndex(bundle, { osv: [osv] });
    expect(ids(r.findings)).toEqual([
      'DEBIAN-CVE-2099-0001 apt:libc6@2.36-9+deb12u7:amd64',
      'DSA-9999-1 apt:libxrandr2@2:1.5.2-2+b1:amd64',
      'PYSEC-2099-1 pip:typing-extensions@4.12.2',
    ]);
    const glibc = r.findings.find((f) => f.id === 'DEBIAN-CVE-2099-0001')!;
    expect(glibc).toMatchObject({
      severity: 'high',
      severitySource: 'Debian urgency',
      package: 'libc6',
      version: '2.36-9+deb12u7',
      source: { name: 'glibc', version: '2.36-9+deb12u7' },
      fixed: '2.36-9+deb12u8',
      ecosystem: 'Debian:12',
      aliases: ['CVE-2099-0001'],
    });
    expect(r.findings.find((f) => f.id === 'DSA-9999-1')).toMatchObject({
      source: { name: 'libxrandr', version: '2:1.5.2-2' },
      fixed: '2:1.5.2-3',
      aliases: ['CVE-2099-0002'],
      severity: 'unknown',
    });
    expect(r.summary).toMatchObject({ records: 4, withdrawn: 1, uncovered: [], bySeverity: { high: 1, unknown: 2 } });
  });

  it("the npm packages packed into the runtime are matched against npm records in semver order; node and the tool's own code are not checked", async () => {
    const osv = await osvDir([
      {
        id: 'GHSA-zzzz-0001',
        affected: [{ package: { ecosystem: 'npm', name: 'zod' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '4.0.0' }, { fixed: '4.10.0' }] }] }],
        database_specific: { severity: 'HIGH' },
      },
      {
        id: 'GHSA-zzzz-0002',
        affected: [{ package: { ecosystem: 'npm', name: 'zod' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.6.7' }] }] }],
      },
      { id: 'GHSA-scop-0003', affected: [{ package: { ecosystem: 'npm', name: '@cyclonedx/cyclonedx-library' }, versions: ['10.3.0'] }] },
      { id: 'PYSEC-2099-9', affected: [{ package: { ecosystem: 'PyPI', name: 'zod' }, versions: ['4.6.7'] }] },
    ]);
    const digest = `sha256:${sha256('x')}` as const;
    const bundle: BundleIndex = {
      ...index([]),
      runtime: [
        { path: 'runtime/node', name: 'node', version: '20.20.2', digest, size: 1, purl: 'pkg:generic/node@20.20.2' },
        {
          path: 'runtime/vault-bundle.cjs',
          name: 'vault-bundle',
          version: '0.1.0',
          digest,
          size: 1,
          purl: 'pkg:generic/vault-bundle@0.1.0',
          packages: [
            { name: 'zod', version: '4.6.7', license: 'MIT' },
            { name: '@cyclonedx/cyclonedx-library', version: '10.3.0' },
            { name: 'odd', version: 'not-semver' },
          ],
        },
      ],
    };
    const r = await auditIndex(bundle, { osv: [osv] });
    // 4.6.7 is inside [4.0.0, 4.10.0) in semver order (a string order would say 4.6.7 > 4.10.0), and at the fix of the other.
    expect(ids(r.findings)).toEqual([
      'GHSA-scop-0003 runtime:runtime/vault-bundle.cjs#npm:@cyclonedx/cyclonedx-library@10.3.0',
      'GHSA-zzzz-0001 runtime:runtime/vault-bundle.cjs#npm:zod@4.6.7',
    ]);
    expect(r.findings.find((f) => f.package === 'zod')).toMatchObject({ kind: 'npm', ecosystem: 'npm', severity: 'high', fixed: '4.10.0', version: '4.6.7' });
    expect(r.summary.checked).toEqual({ npm: 2 });
    expect(r.summary.unchecked.map((u) => u.artifact)).toEqual([
      'runtime:runtime/node',
      'runtime:runtime/vault-bundle.cjs',
      'runtime:runtime/vault-bundle.cjs#npm:odd@not-semver',
    ]);
    // Without npm records the runtime's packages were not really checked.
    expect((await auditIndex(bundle, { osv: [join(OSV, 'pypi')] })).summary.uncovered).toEqual(['npm']);
  });

  it('one finding per vulnerability: records that name each other or share a CVE merge, the most severe reading kept', async () => {
    const ext = (id: string, aliases: string[], severity?: string) => ({
      id,
      aliases,
      ...(severity ? { database_specific: { severity } } : {}),
      affected: [{ package: { ecosystem: 'PyPI', name: 'typing-extensions' }, versions: ['4.12.2'] }],
    });
    const osv = await osvDir([
      ext('PYSEC-2099-7', ['GHSA-aaaa-bbbb-cccc']),
      ext('GHSA-aaaa-bbbb-cccc', ['CVE-2099-0007'], 'HIGH'),
      ext('OSV-2099-9', ['CVE-2099-0007']), // names neither record, only their CVE
      ext('PYSEC-2099-8', ['CVE-2099-0008'], 'LOW'), // another vulnerability
      { id: 'DSA-9999-2', upstream: ['CVE-2099-0009'], affected: [{ package: { ecosystem: 'Debian', name: 'libxrandr' }, versions: ['2:1.5.2-2'] }] },
      { id: 'DEBIAN-CVE-2099-0009', affected: [{ package: { ecosystem: 'Debian:12', name: 'libxrandr' }, versions: ['2:1.5.2-2'] }] },
    ]);
    const bundle = index([art('pip', 'typing-extensions', '4.12.2'), art('apt', 'libxrandr2', '2:1.5.2-2+b1', { meta: { Source: 'libxrandr' } })]);
    const r = await auditIndex(bundle, { osv: [osv] });
    expect(r.findings.map((f) => `${f.id} ${f.severity} ${f.aliases.join(',')}`)).toEqual([
      'GHSA-aaaa-bbbb-cccc high CVE-2099-0007,OSV-2099-9,PYSEC-2099-7',
      'DEBIAN-CVE-2099-0009 unknown CVE-2099-0009,DSA-9999-2', // unknown sorts as medium
      'PYSEC-2099-8 low CVE-2099-0008',
    ]);
    expect(r.summary.bySeverity).toMatchObject({ high: 1, low: 1, unknown: 1 });
  });

  it('a folder or zip that is not OSV data fails with BAD_OSV naming the file (exit 64)', async () => {
    const bundle = index([art('pip', 'setuptools', '66.1.1')]);
    const dir = await tempDir('vb-osv-bad');
    await cp(OSV, join(dir, 'osv'), { recursive: true });
    await writeFile(join(dir, 'osv', 'pypi', 'broken.json'), '{"id": "PYSEC-1", "affected": [');
    const err = await auditIndex(bundle, { osv: [join(dir, 'osv')] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err).toMatchObject({ code: 'BAD_OSV', exitCode: 64, subject: join(dir, 'osv', 'pypi', 'broken.json') });
    expect((err as Error).message).toMatch(/broken\.json: not JSON/);
    await writeFile(join(dir, 'osv', 'pypi', 'broken.json'), '{"affected": []}');
    await expect(auditIndex(bundle, { osv: [join(dir, 'osv')] })).rejects.toThrow(/broken\.json: not an OSV record \(id: /);
    const zip = await zipOf(join(dir, 'osv'), join(dir, 'osv.zip'));
    await expect(auditIndex(bundle, { osv: [zip] })).rejects.toThrow(/osv\.zip:pypi\/broken\.json: not an OSV record/);
    await writeFile(join(dir, 'empty.zip'), 'PK not really a zip');
    await expect(auditIndex(bundle, { osv: [join(dir, 'empty.zip')] })).rejects.toMatchObject({ code: 'BAD_OSV' });
    await expect(auditIndex(bundle, { osv: [join(dir, 'nowhere')] })).rejects.toThrow(/nowhere: no such file or folder/);

    await writeFile(join(dir, 'bundle.json'), JSON.stringify(bundle));
    // OSV data with no record at all for an ecosystem of the bundle: never a clean exit 0, unless accepted.
    await mkdir(join(dir, 'deb-only'));
    await writeFile(
      join(dir, 'deb-only', 'DSA-1.json'),
      JSON.stringify({ id: 'DSA-1', affected: [{ package: { ecosystem: 'Debian:12', name: 'zz' }, versions: ['1'] }] }),
    );
    const uncovered = await runCli(['audit', join(dir, 'bundle.json'), '--osv', join(dir, 'deb-only')]);
    expect(uncovered.code).toBe(7);
    expect(uncovered.stdout).toMatch(/^0 finding\(s\); 0 at or above --fail-on high$/m);
    expect(uncovered.stdout).toMatch(
      /^INCOMPLETE: the OSV data has no PyPI record: its 1 package\(s\) were not really checked \(exit 7; .*--allow-uncovered\)$/m,
    );
    expect(uncovered.stderr).toMatch(/^error: the OSV data has no record for PyPI: .*\nhint: .*--allow-uncovered/m);
    const accepted = await runCli(['--json', 'audit', join(dir, 'bundle.json'), '--osv', join(dir, 'deb-only'), '--allow-uncovered']);
    expect(accepted.code).toBe(0);
    expect(JSON.parse(accepted.stdout.trim().split('\n').at(-1)!)).toMatchObject({ type: 'result', incomplete: false, summary: { uncovered: ['PyPI'] } });

    await writeFile(join(dir, 'osv', 'pypi', 'broken.json'), 'not json at all');
    const cli = await runCli(['audit', join(dir, 'bundle.json'), '--osv', join(dir, 'osv')]);
    expect(cli.code).toBe(64);
    expect(cli.stderr).toContain(`error: --osv ${join(dir, 'osv', 'pypi', 'broken.json')}: not JSON`);
    expect(cli.stderr).toMatch(/^hint: /m);
    expect(cli.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });
});

describe('setuptools 66.1.1 from /usr/share/python-wheels against real PyPI records', () => {
  it('finds CVE-2024-6345 and CVE-2025-47273, not the ReDoS fixed in 65.5.1; exit codes by --fail-on; --json', async (ctx) => {
    if (!(await exists(SETUPTOOLS))) {
      ctx.skip(`${SETUPTOOLS} is missing (Debian's python3-setuptools-whl / python3-pip-whl installs it)`);
      return;
    }
    const dir = await tempDir();
    await writeFile(
      join(dir, 'wheels.yaml'),
      [
        'name: wheels',
        'version: 1.0.0',
        'target: { os: ubuntu-24.04, arch: amd64, python: "3.12" }',
        'pip:',
        '  no-index: true',
        `  find-links: [${SYSTEM_WHEELS}]`,
        '  packages: [setuptools==66.1.1]',
        '',
      ].join('\n'),
    );
    const built = await buildIn(dir, join(dir, 'wheels.yaml'), { out: join(dir, 'wheels') });
    expect(built.lock.artifacts.map((a) => a.id)).toEqual(['pip:setuptools@66.1.1']);

    const res = await auditBundle({ bundle: join(dir, 'wheels'), osv: [OSV], failOn: 'high' });
    expect(res.findings.map((f) => [f.id, f.severity, f.score, f.fixed])).toEqual([
      ['GHSA-cx63-2mw6-8hw5', 'high', 8.8, '70.0.0'],
      ['PYSEC-2025-49', 'high', 8.8, '78.1.1'],
    ]);
    expect(res.findings[1]).toMatchObject({
      aliases: ['CVE-2025-47273', 'GHSA-5rjg-fvgr-3xxf'],
      matchedBy: 'range',
      severitySource: 'CVSS 3.1',
      ecosystem: 'PyPI',
      artifact: 'pip:setuptools@66.1.1',
      package: 'setuptools',
      version: '66.1.1',
    });
    expect(res.failing).toBe(2);
    expect(res.summary).toMatchObject({
      checked: { PyPI: 1 },
      uncovered: [],
      ecosystems: { PyPI: 3, 'Debian:12': 1, 'Debian:13': 2, 'Debian:14': 1, 'Ubuntu:24.04:LTS': 1 },
    });

    // The CLI: exit 1 at or above --fail-on (default high), 0 below it; --json is what report --audit reads.
    const human = await runCli(['audit', join(dir, 'wheels'), '--osv', OSV]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(
      /^HIGH {2}GHSA-cx63-2mw6-8hw5 {2}setuptools 66\.1\.1 {2}fixed in 70\.0\.0 {2}CVSS 8\.8 {2}CVE-2024-6345 {2}setuptools vulnerable to Command Injection via package URL$/m,
    );
    expect(human.stdout).toContain('2 finding(s) (2 high); 2 at or above --fail-on high');
    expect((await runCli(['audit', join(dir, 'wheels'), '--osv', OSV, '--fail-on', 'critical'])).code).toBe(0);
    expect((await runCli(['audit', join(dir, 'wheels'), '--osv', OSV, '--fail-on', 'never'])).code).toBe(0);
    expect((await runCli(['audit', join(dir, 'wheels'), '--osv', OSV, '--fail-on', 'medium'])).code).toBe(1);
    expect((await runCli(['audit', join(dir, 'wheels'), '--osv', OSV, '--fail-on', 'severe'])).code).toBe(64);
    expect((await runCli(['audit', join(dir, 'wheels')])).code).toBe(64); // --osv is required

    const j = await runCli(['--json', 'audit', join(dir, 'wheels'), '--osv', OSV]);
    expect(j.code).toBe(1);
    const last = JSON.parse(j.stdout.trim().split('\n').at(-1)!) as { type: string; findings: AuditFinding[]; failing: number; failOn: string };
    expect(last).toMatchObject({ type: 'result', failing: 2, failOn: 'high', name: 'wheels', version: '1.0.0' });
    expect(last.findings[0]).toEqual({
      id: 'GHSA-cx63-2mw6-8hw5',
      aliases: ['CVE-2024-6345'],
      severity: 'high',
      severitySource: 'database_specific.severity',
      score: 8.8,
      vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H',
      package: 'setuptools',
      version: '66.1.1',
      fixed: '70.0.0',
      summary: 'setuptools vulnerable to Command Injection via package URL',
      ecosystem: 'PyPI',
      artifact: 'pip:setuptools@66.1.1',
      kind: 'pip',
      matchedBy: 'range',
    });

    // What `report --audit` reads: the --json output as it is.
    await writeFile(join(dir, 'audit.json'), j.stdout);
    expect((await readAudit(join(dir, 'audit.json'))).map((f) => `${f.id} ${f.severity} ${f.package} ${f.version}`)).toEqual([
      'GHSA-cx63-2mw6-8hw5 high setuptools 66.1.1',
      'PYSEC-2025-49 high setuptools 66.1.1',
    ]);

    // Only Debian records: the wheel was not really checked, and the audit says so.
    const debOnly = await auditBundle({ bundle: join(dir, 'wheels'), osv: [join(OSV, 'debian')], failOn: 'high' });
    expect(debOnly.findings).toEqual([]);
    expect(debOnly.summary.uncovered).toEqual(['PyPI']);
  }, 120_000);
});

/** The Debian mirror this machine's apt uses (never written into the repo), or why it cannot be used. */
// jq 1.6-2.1+deb12u1: the bookworm version before the LTS team's 1.6-2.1+deb12u2 (July 2026) fixed
// CVE-2026-54679 and others. It is no longer in any Packages index but still in the mirror's pool; the
// sha256 sums are pinned here (they were read from those files when this test was written).
const JQ_U1 = {
  'jq_1.6-2.1+deb12u1_amd64.deb': 'ac95774deddeb233a91eeda124cac91a953966dbd761bb98ba10d332c19af626',
  'libjq1_1.6-2.1+deb12u1_amd64.deb': 'd4f10dadf1ec12e9285cf9bcc5c432286a10124378ead503e48e0c49a03027ba',
};

describe('jq from the real Debian mirror against real Debian and Ubuntu records', () => {
  it('jq 1.6-2.1+deb12u2 (bookworm today) is past the fix: nothing; the same bundle claiming deb12u1 is found', async (ctx) => {
    const mirror = await debianMirror();
    if ('skip' in mirror) {
      ctx.skip(mirror.skip);
      return;
    }
    const dir = await tempDir();
    await writeFile(
      join(dir, 'jq.yaml'),
      [
        'name: jq',
        'version: 1.0.0',
        'target: { os: debian-12, arch: amd64 }',
        'apt:',
        '  sources: [{ system: true, suites: [bookworm] }]',
        '  packages: [jq]',
        '',
      ].join('\n'),
    );
    const built = await buildIn(dir, join(dir, 'jq.yaml'), { out: join(dir, 'jq'), cacheDir: SHARED_CACHE });
    const jq = built.lock.artifacts.find((a) => a.name === 'jq')!;
    expect(jq.purl).toMatch(/^pkg:deb\/debian\/jq@.*distro=bookworm/);
    expect(jq.version).toMatch(/^1\.6-2\.1\+deb12u\d+$/);
    const zip = await zipOf(OSV, join(dir, 'osv.zip'));

    for (const osv of [OSV, zip]) {
      const res = await auditBundle({ bundle: join(dir, 'jq'), osv: [osv], failOn: 'medium' });
      // DEBIAN-CVE-2026-54679 is fixed in 1.6-2.1+deb12u2; DEBIAN-CVE-2023-50246 has no Debian:12 entry
      // (jq 1.6 never had the bug); UBUNTU-CVE-2023-50268 is for Ubuntu:24.04:LTS.
      expect(res.findings.filter((f) => f.package === 'jq' || f.package === 'libjq1')).toEqual([]);
      expect(res.summary.checked['Debian:12']).toBe(built.lock.artifacts.length);
      expect(res.summary.records).toBe(6);
    }

    // The same bundle as it was before the fix: bundle.json edited to the deb12u1 version of jq and libjq1.
    const old = join(dir, 'jq-old');
    await cp(join(dir, 'jq'), old, { recursive: true });
    const idx = JSON.parse(await readFile(join(old, 'bundle.json'), 'utf8')) as BundleIndex;
    for (const a of idx.artifacts) {
      if (a.name === 'jq' || a.name === 'libjq1') {
        a.purl = a.purl.replace(a.version, '1.6-2.1%2Bdeb12u1').replace(encodeURIComponent(a.version), '1.6-2.1%2Bdeb12u1');
        a.id = a.id.replace(a.version, '1.6-2.1+deb12u1');
        a.version = '1.6-2.1+deb12u1';
      }
    }
    // An edited bundle.json no longer passes for the bundle (it fails its SHA256SUMS): audit it alone, unverified.
    await writeFile(join(old, 'bundle.json'), JSON.stringify(idx, null, 2));
    await expect(auditBundle({ bundle: old, osv: [zip], failOn: 'high' })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await cp(join(old, 'bundle.json'), join(dir, 'jq-old.json'));
    const res = await auditBundle({ bundle: join(dir, 'jq-old.json'), osv: [zip], failOn: 'high' });
    expect(res.unverified).toContain('unverified');
    expect(ids(res.findings)).toEqual(['DEBIAN-CVE-2026-54679 apt:jq@1.6-2.1+deb12u1:amd64', 'DEBIAN-CVE-2026-54679 apt:libjq1@1.6-2.1+deb12u1:amd64']);
    expect(res.failing).toBe(0); // medium, under the default gate
  }, 180_000);

  it('a bundle of the real jq 1.6-2.1+deb12u1 .debs (from the pool, re-indexed locally) is found vulnerable', async (ctx) => {
    const mirror = await debianMirror();
    if ('skip' in mirror) {
      ctx.skip(mirror.skip);
      return;
    }
    const dir = await tempDir();
    const repo = join(dir, 'repo');
    const stanzas: string[] = [];
    for (const [file, sum] of Object.entries(JQ_U1)) {
      const res = await fetch(`${mirror.uri}/pool/main/j/jq/${file}`, { signal: AbortSignal.timeout(30_000) });
      if (!res.ok) {
        ctx.skip(`${file} is no longer in the mirror's pool (${res.status})`);
        return;
      }
      const data = Buffer.from(await res.arrayBuffer());
      expect(sha256(data), file).toBe(sum);
      const rel = `pool/main/j/jq/${file}`;
      await mkdir(join(repo, 'pool/main/j/jq'), { recursive: true });
      await writeFile(join(repo, rel), data);
      // The control file as Debian built it, with the index fields apt adds.
      const control = execFileSync('dpkg-deb', ['-f', join(repo, rel)], { encoding: 'utf8' }).trimEnd();
      const at = control.indexOf('\nDescription:');
      stanzas.push(`${control.slice(0, at)}\nFilename: ${rel}\nSize: ${data.length}\nSHA256: ${sum}${control.slice(at)}`);
    }
    const packages = `${stanzas.join('\n\n')}\n`;
    await mkdir(join(repo, 'dists/bookworm/main/binary-amd64'), { recursive: true });
    await writeFile(join(repo, 'dists/bookworm/main/binary-amd64/Packages'), packages);
    await writeFile(join(repo, 'dists/bookworm/main/binary-amd64/Packages.gz'), gzipSync(packages));
    const key = await makeKey(dir, 'Local Reindex');
    await writeRelease(repo, { suite: 'bookworm', component: 'main', key, origin: 'Debian' });
    const server = await serveDir(repo);
    try {
      await writeFile(
        join(dir, 'jq.yaml'),
        [
          'name: jq-deb12u1',
          'version: 1.0.0',
          'target: { os: debian-12, arch: amd64 }',
          'apt:',
          `  sources: [{ uri: "${server.url}", suites: [bookworm], components: [main], signed-by: "${key.keyring}" }]`,
          '  packages: [jq]',
          '  exclude: [libc6, libonig5]',
          '',
        ].join('\n'),
      );
      const built = await buildIn(dir, join(dir, 'jq.yaml'), { out: join(dir, 'jq') });
      expect(built.lock.artifacts.map((a) => `${a.id} ${a.digest}`).sort()).toEqual([
        `apt:jq@1.6-2.1+deb12u1:amd64 sha256:${JQ_U1['jq_1.6-2.1+deb12u1_amd64.deb']}`,
        `apt:libjq1@1.6-2.1+deb12u1:amd64 sha256:${JQ_U1['libjq1_1.6-2.1+deb12u1_amd64.deb']}`,
      ]);
    } finally {
      await server.close();
    }
    const zip = await zipOf(OSV, join(dir, 'osv.zip'));
    for (const osv of [OSV, zip]) {
      const res = await auditBundle({ bundle: join(dir, 'jq'), osv: [osv], failOn: 'high' });
      expect(ids(res.findings)).toEqual(['DEBIAN-CVE-2026-54679 apt:jq@1.6-2.1+deb12u1:amd64', 'DEBIAN-CVE-2026-54679 apt:libjq1@1.6-2.1+deb12u1:amd64']);
      const [jq, libjq1] = res.findings;
      expect(jq).toMatchObject({
        aliases: ['CVE-2026-54679'],
        severity: 'medium',
        severitySource: 'CVSS 3.1',
        score: 5.5,
        package: 'jq',
        version: '1.6-2.1+deb12u1',
        fixed: '1.6-2.1+deb12u2',
        ecosystem: 'Debian:12',
        matchedBy: 'range',
        summary: expect.stringMatching(/^jq is a command-line JSON processor\. Prior to 1\.8\.2/),
      });
      expect(jq!.source).toBeUndefined();
      expect(libjq1).toMatchObject({ package: 'libjq1', source: { name: 'jq', version: '1.6-2.1+deb12u1' }, fixed: '1.6-2.1+deb12u2' });
      expect(res.failing).toBe(0);
    }
    // Exit codes through the CLI: medium findings pass the default gate (high) and fail --fail-on medium.
    expect((await runCli(['audit', join(dir, 'jq'), '--osv', zip])).code).toBe(0);
    const strict = await runCli(['audit', join(dir, 'jq'), '--osv', zip, '--fail-on', 'medium']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(
      /^MEDIUM {2}DEBIAN-CVE-2026-54679 {2}libjq1 1\.6-2\.1\+deb12u1 {2}fixed in 1\.6-2\.1\+deb12u2 {2}CVSS 5\.5 {2}CVE-2026-54679 /m,
    );
  }, 180_000);
});
