import { targetTags } from '../sources/pip/tags.js';
import type { Exec } from '../util/exec.js';
import { type Present, absentFact, type BoxProbe } from '../box/probe.js';

/**
 * Run with the box's interpreter (`python -I -c`): one JSON line with its version, implementation, ABI, libc
 * and machine; its supported wheel tags from pip's own list (what `pip install` will accept), else from
 * packaging, else none (the caller then computes them with vault-bundle's tag code from the same facts); and,
 * with the argument `dists`, every installed distribution (importlib.metadata, Python 3.8+).
 */
export const PYTHON_PROBE = String.raw`
import json, os, platform, sys, sysconfig
out = {"executable": sys.executable, "version": platform.python_version(), "prefix": sys.prefix,
       "base_prefix": getattr(sys, "base_prefix", sys.prefix), "machine": platform.machine(),
       "implementation": sys.implementation.name, "soabi": sysconfig.get_config_var("SOABI") or "",
       "abiflags": getattr(sys, "abiflags", ""), "libc": "", "tags": None, "tagsFrom": None, "tagsError": None}
try:
    out["libc"] = os.confstr("CS_GNU_LIBC_VERSION") or ""
except Exception:
    pass
def pip_tags():
    from pip._internal.utils.compatibility_tags import get_supported
    return get_supported()
def vendored_tags():
    from pip._vendor.packaging.tags import sys_tags
    return sys_tags()
def packaging_tags():
    from packaging.tags import sys_tags
    return sys_tags()
for name, fn in (("pip", pip_tags), ("pip", vendored_tags), ("packaging", packaging_tags)):
    try:
        out["tags"] = [str(t) for t in fn()]
        out["tagsFrom"] = name
        break
    except Exception as e:
        out["tagsError"] = "%s: %s" % (type(e).__name__, e)
if "dists" in sys.argv[1:]:
    try:
        from importlib import metadata
        seen = {}
        for d in metadata.distributions():
            name = d.metadata["Name"]
            # A broken .dist-info (no Name or Version) is not an installed distribution pip would count.
            if name and d.version and name not in seen:
                seen[name] = d.version
        out["distributions"] = [{"name": n, "version": v} for n, v in sorted(seen.items(), key=lambda x: x[0].lower())]
    except Exception as e:
        out["distributionsError"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
`;

interface PythonFacts {
  executable: string;
  version: string;
  prefix: string;
  base_prefix: string;
  machine: string;
  implementation: string;
  soabi: string;
  abiflags: string;
  libc: string;
  tags: string[] | null;
  tagsFrom: 'pip' | 'packaging' | null;
  tagsError: string | null;
  distributions?: { name: string; version: string }[];
  distributionsError?: string;
}

/** PEP 425 short names of the interpreters packaging knows (tags.INTERPRETER_SHORT_NAMES). */
const SHORT: Record<string, string> = { python: 'py', cpython: 'cp', pypy: 'pp', ironpython: 'ip', jython: 'jy' };

/** The ABI tag packaging would give: cp312 (+ abiflags such as t or d), or SOABI's first part for others. */
function abiOf(f: PythonFacts, impl: string, nodot: string): string[] {
  if (impl === 'cp') return [`cp${nodot}${f.abiflags.replace(/m/g, '')}`];
  const soabi = f.soabi.split('-').slice(0, 2).join('_').replace(/[.-]/g, '_');
  return soabi ? [soabi] : [];
}

/** Runs the probe with `python`; undefined and the reason when it cannot be run or says nothing useful. */
export async function runPythonProbe(exec: Exec, python: string, dists: boolean): Promise<{ facts?: PythonFacts; reason?: string }> {
  const r = await exec(python, ['-I', '-c', PYTHON_PROBE, ...(dists ? ['dists'] : [])], {
    env: { ...process.env, LC_ALL: 'C.UTF-8', PYTHONWARNINGS: 'ignore' },
  });
  if (r.code === 127) return { reason: `${python} not found` };
  const line = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .at(-1);
  if (r.code !== 0 || !line) return { reason: `${python} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').at(-1) ?? ''}`.trim() };
  try {
    return { facts: JSON.parse(line) as PythonFacts };
  } catch {
    return { reason: `${python} printed no JSON` };
  }
}

/** The `python` fact from the probe's output; tags come from vault-bundle's own tag code when pip and packaging are missing. */
export function pythonFact(f: PythonFacts): BoxProbe['python'] {
  const impl = SHORT[f.implementation] ?? f.implementation;
  const m = /^(\d+)\.(\d+)/.exec(f.version);
  if (!m) return absentFact(`${f.executable} reports version ${JSON.stringify(f.version)}`);
  const nodot = `${m[1]}${m[2]}`;
  const abi = abiOf(f, impl, nodot);
  const glibc = /^glibc\s+(\d+\.\d+)/.exec(f.libc)?.[1];
  let tags = f.tags ?? [];
  let tagsFrom: Present<'python'>['tagsFrom'] = f.tagsFrom ?? 'vault-bundle';
  if (!tags.length) {
    try {
      tags = targetTags({ python: `${m[1]}.${m[2]}`, implementation: impl, abi, ...(glibc ? { glibc } : {}), arch: f.machine });
      tagsFrom = 'vault-bundle';
    } catch (err) {
      return absentFact(`no wheel tags for ${f.executable}: ${f.tagsError ?? ''} ${(err as Error).message}`.trim());
    }
  }
  return {
    present: true,
    path: f.executable,
    version: f.version,
    implementation: impl,
    abi,
    ...(glibc ? { glibc } : {}),
    machine: f.machine,
    tags,
    tagsFrom,
  };
}

/** The `venv` fact: the distributions the venv's interpreter sees. */
export function venvFact(path: string, f: PythonFacts): BoxProbe['venv'] {
  if (!f.distributions) return absentFact(`cannot list the distributions of ${path}: ${f.distributionsError ?? 'no importlib.metadata'}`);
  return { present: true, path, python: f.executable, distributions: f.distributions };
}
