import { readFile, stat } from 'node:fs/promises';
import { hostname, machine } from 'node:os';
import { join } from 'node:path';
import type { Target } from '../box/target.js';
import type { ProbeRef } from './load.js';
import type { Exec } from '../util/exec.js';
import { debianArchOf, parseOsRelease } from './collect.js';

export interface TargetCheck {
  /** What differs between this box and the bundle's target, one phrase each. */
  mismatches: string[];
  /** What could not be compared, or deserves a word (warnings, never a refusal on their own). */
  notes: string[];
}

/**
 * Compares this box with the bundle's target before install changes anything: /etc/os-release's ID-VERSION_ID
 * with target.os, dpkg's architecture (else uname's, by Debian name) with target.arch and, when wheels are to
 * be installed, the Python the pip step will use (the venv's when it exists, else the python3 that makes it)
 * with target.python. A bundle for another box used to install apt packages and then fail at pip.
 */
export async function checkTarget(
  target: Target & { probe?: ProbeRef },
  o: {
    exec: Exec;
    /** /etc/os-release unless a test points elsewhere. */
    osRelease?: string;
    /** Set when wheels will be installed: the venv, and whether the bundle's apt packages bring python3 first. */
    pip?: { venv: string; pythonFromApt: boolean };
  },
): Promise<TargetCheck> {
  const out: TargetCheck = { mismatches: [], notes: [] };
  const osFile = o.osRelease ?? '/etc/os-release';
  const text = await readFile(osFile, 'utf8').catch(() => undefined);
  const rel = text === undefined ? undefined : parseOsRelease(text);
  if (!rel?.ID) {
    out.notes.push(`OS (cannot read ${osFile})`);
  } else {
    const os = rel.VERSION_ID ? `${rel.ID}-${rel.VERSION_ID}` : rel.ID;
    if (os !== target.os) out.mismatches.push(`OS: this box is ${os}${rel.PRETTY_NAME ? ` (${rel.PRETTY_NAME})` : ''}, the bundle is for ${target.os}`);
  }
  const dpkg = await o.exec('dpkg', ['--print-architecture']);
  const arch = dpkg.code === 0 && dpkg.stdout.trim() ? dpkg.stdout.trim() : debianArchOf(machine());
  if (arch !== target.arch) out.mismatches.push(`architecture: this box is ${arch}, the bundle is for ${target.arch}`);
  if (o.pip && target.python) {
    const venvPython = join(o.pip.venv, 'bin', 'python');
    const py = (await stat(venvPython).then(
      (s) => s.isFile(),
      () => false,
    ))
      ? venvPython
      : 'python3';
    const r = await o.exec(py, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
    const version = r.code === 0 ? r.stdout.trim() : undefined;
    if (!version) {
      if (o.pip.pythonFromApt) out.notes.push(`Python (no ${py} yet: the bundle's apt packages bring it)`);
      else
        out.mismatches.push(
          `Python: the pip step needs ${py}, which ${r.code === 127 ? 'this box does not have' : `fails here (exit ${r.code})`}; the bundle's wheels are for Python ${target.python}`,
        );
    } else if (version !== target.python) {
      out.mismatches.push(`Python: the pip step will use ${py} (Python ${version}), the bundle's wheels are for Python ${target.python}`);
    }
  }
  // A bundle built from a probe holds only what that box lacked: on another box, something may be missing.
  if (target.probe && target.probe.hostname !== hostname()) {
    out.notes.push(`host: the bundle was built for what ${target.probe.hostname} lacked (probe of ${target.probe.created}); this box is ${hostname()}`);
  }
  return out;
}
