import { fixupSpdxId } from '@cyclonedx/cyclonedx-library/SPDX';

/**
 * The trove classifiers (https://pypi.org/classifiers/) that name exactly one SPDX license. Those that name a
 * family without a version ("Apache Software License", "BSD License", "GNU General Public License (GPL)") are
 * not here: they stay as written, never widened to a guessed version.
 */
const CLASSIFIERS: Record<string, string> = {
  'MIT License': 'MIT',
  'MIT No Attribution License (MIT-0)': 'MIT-0',
  'ISC License (ISCL)': 'ISC',
  'The Unlicense (Unlicense)': 'Unlicense',
  'zlib/libpng License': 'Zlib',
  'Python Software Foundation License': 'PSF-2.0',
  'Boost Software License 1.0 (BSL-1.0)': 'BSL-1.0',
  'Universal Permissive License (UPL)': 'UPL-1.0',
  'Historical Permission Notice and Disclaimer (HPND)': 'HPND',
  'Mozilla Public License 1.1 (MPL 1.1)': 'MPL-1.1',
  'Mozilla Public License 2.0 (MPL 2.0)': 'MPL-2.0',
  'Eclipse Public License 1.0 (EPL-1.0)': 'EPL-1.0',
  'Eclipse Public License 2.0 (EPL-2.0)': 'EPL-2.0',
  'European Union Public Licence 1.1 (EUPL 1.1)': 'EUPL-1.1',
  'European Union Public Licence 1.2 (EUPL 1.2)': 'EUPL-1.2',
  'GNU General Public License v2 (GPLv2)': 'GPL-2.0-only',
  'GNU General Public License v2 or later (GPLv2+)': 'GPL-2.0-or-later',
  'GNU General Public License v3 (GPLv3)': 'GPL-3.0-only',
  'GNU General Public License v3 or later (GPLv3+)': 'GPL-3.0-or-later',
  'GNU Lesser General Public License v2 (LGPLv2)': 'LGPL-2.0-only',
  'GNU Lesser General Public License v2 or later (LGPLv2+)': 'LGPL-2.0-or-later',
  'GNU Lesser General Public License v3 (LGPLv3)': 'LGPL-3.0-only',
  'GNU Lesser General Public License v3 or later (LGPLv3+)': 'LGPL-3.0-or-later',
  'GNU Affero General Public License v3': 'AGPL-3.0-only',
  'GNU Affero General Public License v3 or later (AGPLv3+)': 'AGPL-3.0-or-later',
  'CC0 1.0 Universal (CC0 1.0) Public Domain Dedication': 'CC0-1.0',
};

/** The header fields of core metadata (RFC 822 style: up to the first blank line), continuation lines joined. */
function headers(text: string): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const line of (text.split(/\r?\n\r?\n/)[0] ?? '').split(/\r?\n/)) {
    const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
    if (m) out.push({ name: m[1]!.toLowerCase(), value: m[2]!.trim() });
    else if (/^\s/.test(line) && out.length) out.at(-1)!.value += `\n${line.trim()}`;
  }
  return out;
}

/** "License :: OSI Approved :: MIT License" → MIT; an unmapped one → its last part as written. */
function fromClassifier(c: string): { spdx?: string; text: string } {
  const leaf = c.split('::').at(-1)!.trim();
  const spdx = CLASSIFIERS[leaf];
  return spdx ? { spdx, text: spdx } : { text: leaf };
}

/**
 * A wheel's declared licence from its METADATA: `License-Expression` (PEP 639) first; then `License` when it
 * is one short line (not a licence text, not "UNKNOWN"); then the `License ::` classifiers, mapped to SPDX
 * ids where one is exact. A `License` that is no SPDX id gives way to classifiers that all map.
 */
export function wheelLicence(metadata: string): string | undefined {
  const h = headers(metadata);
  const expr = h.find((x) => x.name === 'license-expression')?.value;
  if (expr) return expr;
  const field = h.find((x) => x.name === 'license')?.value;
  const short = field && !field.includes('\n') && field.length <= 100 && !/^unknown$/i.test(field) ? field : undefined;
  const classes = h.filter((x) => x.name === 'classifier' && /^License ::/.test(x.value)).map((x) => fromClassifier(x.value));
  if (short && fixupSpdxId(short)) return fixupSpdxId(short);
  // Several licence classifiers do not say whether all apply or any one does: listed, not joined into an expression.
  if (classes.length === 1 && classes[0]!.spdx) return classes[0]!.spdx;
  if (short) return short;
  return classes.length ? classes.map((c) => c.text).join(', ') : undefined;
}
