import type { IndexRef } from '../../src/sources/apt/types.js';

// Packages stanzas of every shape the lock's universe (universe.ts) stores, and the index they come from.

/** An index of a suite and component on 127.0.0.1 (nothing is fetched from it). */
export const stanzaOrigin = (component: string, suite = 'bookworm'): IndexRef => ({
  uri: 'http://127.0.0.1/debian',
  suite,
  component,
  indexPath: `${component}/binary-amd64/Packages`,
  releaseDigest: `sha256:${'a'.repeat(64)}`,
  signer: 'F'.repeat(40),
  vendor: 'debian',
  distro: suite,
  pin: 500,
});

/** Every field, a non-hex sha256, a size past 2^32, non-ASCII text, another architecture, a 70 kB field. */
export const sampleStanzas: Record<string, string>[] = [
  { package: 'a', version: '1:2.0-1', architecture: 'amd64', filename: 'pool/main/a/a_2.0-1_amd64.deb', size: '10', sha256: 'AB'.repeat(32) },
  {
    package: 'b',
    version: '3',
    architecture: 'all',
    'multi-arch': 'foreign',
    essential: 'yes',
    protected: 'yes',
    priority: 'optional',
    section: 'libs',
    source: 'bsrc (2)',
    homepage: 'https://example.org/ünïcode',
    'pre-depends': 'c',
    depends: 'a (>= 1:2), d | e',
    recommends: 'f',
    suggests: 'g',
    provides: 'virt (= 3), other',
    conflicts: 'h',
    breaks: 'i (<< 2)',
    replaces: 'j',
    enhances: 'k',
    filename: 'pool/main/b/bsrc/b_3_all.deb',
    size: '12345678901',
    sha256: 'not-a-hex-digest',
    'installed-size': '42',
  },
  { package: 'c', version: '1', architecture: 'arm64', filename: 'c.deb', size: '0', sha256: '0'.repeat(64), depends: 'x'.repeat(70000) },
];
