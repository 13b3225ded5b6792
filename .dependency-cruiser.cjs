// Import rules of vault-bundle, checked by test/structure.test.ts (`npx depcruise src` prints the same).
// The layers of shared/design/house.md, from the ground up. An import points only down this list, or
// inside its own folder; folders on one line are independent rooms of one floor and never import each other.
const ranks = [
  // 1  errors, events, limits, fs helpers, formatting; imports nothing of ours.
  ['util', 'version\\.ts'],
  // 2  the content-addressed store, the box's install journal, the one OpenPGP module, the target box's
  //    description in box/ (the manifest's target and the probe file), which both sources and manifest read.
  ['store', 'state', 'pgp', 'box'],
  // 3  bounded HTTP into the store; takes {http, signal}, never a build context.
  ['fetch'],
  // 4  apt, pip, hf, file: one interface in sources/source.ts, one registry line each.
  ['sources'],
  // 5  the manifest, box facts, smoke checks and the carried runtime ...
  ['manifest', 'probe', 'checks', 'runtime'],
  //    ... and the lock, which pins a manifest for a probed box.
  ['lock'],
  // 6  the artifact and what is said about it: the SBOM describes an index handed to it ...
  ['sbom'],
  //    ... bundle/ writes, signs and trusts the artifact (it embeds the SBOM) ...
  ['bundle'],
  //    ... audit matches its components against advisories ...
  ['audit'],
  //    ... and report and the box-side install read all of the above.
  ['report', 'install'],
  // 7  the composition root: the build context's I/O objects (context.ts) and the commands' library calls
  //    (commands/, being dissolved into the layers above) ...
  ['commands', 'context\\.ts'],
  //    ... under cli/: a file per verb with its flags and human rendering; nothing below it prints.
  ['cli'],
];
const folder = (names) => `^src/(${names.join('|')})(/|$)`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle: its files can only be read and tested together. Move the shared part down.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...ranks.slice(0, -1).map((names, i) => ({
      name: `only-down-from-${names.join('-').replace(/\\\./g, '.')}`,
      severity: 'error',
      comment: `${names.join(', ')} import only from lower layers (or their own folder), never from ${ranks.slice(i + 1).flat().join(', ')}.`,
      from: { path: folder(names) },
      to: { path: folder(ranks.slice(i + 1).flat()) },
    })),
    ...ranks
      .filter((names) => names.length > 1)
      .map((names) => ({
        name: `rooms-apart-${names.join('-').replace(/\\\./g, '.')}`,
        severity: 'error',
        comment: `${names.join(', ')} are rooms of one floor: none imports another (what two of them share belongs lower).`,
        from: { path: folder(names) },
        to: { path: folder(names), pathNot: '^src/$1(/|$)' },
      })),
    {
      name: 'nothing-imports-the-cli',
      severity: 'error',
      comment: 'cli/ is the composition root: nothing below it imports it.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'src-never-imports-tests-or-tools',
      severity: 'error',
      comment: 'Shipped code does not depend on tests, benches or the tiny-model generator.',
      from: { path: '^src/' },
      to: { path: '^(test|bench|tools)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6'],
  },
};
