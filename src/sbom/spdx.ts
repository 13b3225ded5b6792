import type { SbomSubject } from './subject.js';
import { hexOf } from '../store/digest.js';
import type { Locked, SourceKind } from '../sources/source.js';
import { localVersionFrom, npmPurl, sriHash } from './names.js';
import { installOf, installText } from './install.js';
import { normalizeLicense } from './licenses.js';
import { licenceComment } from './licence-facts.js';
import type { SpdxChecksum, SpdxDocument, SpdxPackage, SpdxRelationship } from './spdx-types.js';

export type { SpdxChecksum, SpdxDocument, SpdxPackage, SpdxRelationship } from './spdx-types.js';

/**
 * SPDX 2.3 JSON (spdx.github.io/spdx-spec/v2.3) generated from bundle.json alone, like the CycloneDX SBOM, so
 * both views agree with the lock: one package per artifact (a model is one package that CONTAINS a package
 * per file, as CycloneDX nests them), SHA256 checksums, purls as PACKAGE-MANAGER external refs, licenses as
 * metadata declares them (licenseConcluded is NOASSERTION: nothing was analysed), and the dependency edges
 * the sources recorded (apt Depends, pip Requires-Dist) as DEPENDS_ON. Deterministic for one bundle.json.
 */
const NOASSERTION = 'NOASSERTION';

const purpose: Record<SourceKind, NonNullable<SpdxPackage['primaryPackagePurpose']>> = {
  apt: 'INSTALL',
  pip: 'LIBRARY',
  hf: 'OTHER',
  file: 'FILE',
};

/** SPDX 2.3 wants `YYYY-MM-DDThh:mm:ssZ`: no fraction. */
export function spdxTime(iso: string): string {
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The document being written: its packages and edges, the SPDX ids handed out, the LicenseRefs defined. */
interface SpdxState {
  ids: Set<string>;
  /** LicenseRef id → the license text it stands for; text → its id. */
  extracted: Map<string, string>;
  idOfText: Map<string, string>;
  packages: SpdxPackage[];
  relationships: SpdxRelationship[];
}

/**
 * The SPDX document of a bundle. `indexSha256` (of bundle.json as shipped) makes the namespace unique for
 * this exact bundle: two builds that differ in any artifact get two namespaces.
 */
export function spdxDocument(index: SbomSubject, indexSha256: string): SpdxDocument {
  const s: SpdxState = { ids: new Set(['SPDXRef-DOCUMENT']), extracted: new Map(), idOfText: new Map(), packages: [], relationships: [] };
  const root = addBundle(s, index);
  const byArtifact = addArtifacts(s, index, root);
  addRuntime(s, index, root);
  addDependsOn(s, index, byArtifact);
  const doc: SpdxDocument = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${index.name}-${index.version}`,
    documentNamespace: `urn:vault-bundle:spdx:${encodeURIComponent(index.name)}:${encodeURIComponent(index.version)}:sha256-${indexSha256}`,
    creationInfo: {
      created: spdxTime(index.created),
      creators: [`Tool: ${index.tool.name}-${index.tool.version}`],
      comment: 'Generated from bundle.json; licenses as upstream metadata declares them.',
    },
    packages: s.packages,
    relationships: s.relationships,
  };
  if (s.extracted.size) {
    doc.hasExtractedLicensingInfos = [...s.extracted].map(([licenseId, text]) => ({
      licenseId,
      extractedText: text,
      name: text,
      comment: 'a license name from upstream metadata that is not on the SPDX license list',
    }));
  }
  return doc;
}

/** A new SPDXRef id from a hint, unique in the document (a second use of one hint gets `-2`, `-3`...). */
function spdxId(s: SpdxState, hint: string): string {
  const base = `SPDXRef-${hint.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '') || 'x'}`;
  let id = base;
  for (let n = 2; s.ids.has(id); n++) id = `${base}-${n}`;
  s.ids.add(id);
  return id;
}

/**
 * The SPDX expression of a declared license. Every LicenseRef used is defined once; two texts that make the
 * same id ("Apache Software" and "Apache-Software") get distinct ids, each with its own text.
 */
function licenseOf(s: SpdxState, text: string | undefined): string {
  if (!text?.trim()) return NOASSERTION;
  const n = normalizeLicense(text);
  const rename = new Map<string, string>();
  for (const r of n.refs) {
    let id = s.idOfText.get(r.text);
    if (!id) {
      id = r.id;
      for (let k = 2; s.extracted.has(id); k++) id = `${r.id}-${k}`;
      s.extracted.set(id, r.text);
      s.idOfText.set(r.text, id);
    }
    if (id !== r.id) rename.set(r.id, id);
  }
  return rename.size ? n.spdx.replace(/LicenseRef-[A-Za-z0-9.-]+/g, (ref) => rename.get(ref) ?? ref) : n.spdx;
}

function addPackage(s: SpdxState, pkg: SpdxPackage, containedBy: string): void {
  s.packages.push(pkg);
  s.relationships.push({ spdxElementId: containedBy, relationshipType: 'CONTAINS', relatedSpdxElement: pkg.SPDXID });
}

/** The bundle itself, the package the document DESCRIBES; its id. */
function addBundle(s: SpdxState, index: SbomSubject): string {
  const root: SpdxPackage = {
    SPDXID: spdxId(s, `Bundle-${index.name}`),
    name: index.name,
    versionInfo: index.version,
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    licenseConcluded: NOASSERTION,
    licenseDeclared: NOASSERTION,
    copyrightText: NOASSERTION,
    primaryPackagePurpose: 'ARCHIVE',
    comment: `vault-bundle bundle for ${index.target.os} ${index.target.arch}${index.description ? `: ${index.description}` : ''}`,
  };
  s.packages.push(root);
  s.relationships.push({ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: root.SPDXID });
  return root.SPDXID;
}

/** A package per artifact, a model's files inside the model's package; artifact id → SPDX id. */
function addArtifacts(s: SpdxState, index: SbomSubject, root: string): Map<string, string> {
  const byArtifact = new Map<string, string>();
  const models = new Map<string, string>();
  for (const a of index.artifacts) {
    const model = a.kind === 'hf' && a.meta?.repo && a.meta.commit && a.meta.path !== undefined ? a.meta : undefined;
    if (model) {
      const key = `${model.repo}@${model.commit}`;
      let modelId = models.get(key);
      if (!modelId) {
        modelId = addModel(s, a, model, root);
        models.set(key, modelId);
      }
      const id = spdxId(s, `hf-file-${model.repo}-${model.path}`);
      byArtifact.set(a.id, id);
      // A file of the model: no purl of its own (the model has it).
      const { externalRefs: _purl, ...file } = artifactPackage(a, id, licenseOf(s, model.license));
      addPackage(s, { ...file, name: model.path!, packageFileName: model.path!.split('/').at(-1)!, primaryPackagePurpose: 'FILE' }, modelId);
      continue;
    }
    const id = spdxId(s, `${a.kind}-${a.name}-${a.version}`);
    byArtifact.set(a.id, id);
    addPackage(s, artifactPackage(a, id, licenseOf(s, a.meta?.license)), root);
  }
  return byArtifact;
}

/** The package of a model (one repo at one commit), met at its first file; its id. */
function addModel(s: SpdxState, a: Locked, model: Record<string, string>, root: string): string {
  const modelId = spdxId(s, `hf-${model.repo}-${model.commit!.slice(0, 12)}`);
  const pkg: SpdxPackage = {
    SPDXID: modelId,
    name: model.repo!,
    versionInfo: model.commit!,
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    licenseConcluded: NOASSERTION,
    licenseDeclared: licenseOf(s, model.license),
    ...(licenceComment(model) ? { licenseComments: licenceComment(model)! } : {}),
    copyrightText: NOASSERTION,
    primaryPackagePurpose: 'OTHER',
    externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: a.purl }],
    comment:
      model.origin === 'local'
        ? `machine-learning model from a local folder, not fetched from the Hugging Face Hub; version: ${localVersionFrom(model.versionFrom)}`
        : `machine-learning model${model.revision ? ` (revision ${model.revision})` : ''}`,
  };
  addPackage(s, pkg, root);
  return modelId;
}

/** The carried runtime's files, each CONTAINING the npm packages packed into it. */
function addRuntime(s: SpdxState, index: SbomSubject, root: string): void {
  for (const rf of index.runtime ?? []) {
    const file: SpdxPackage = {
      SPDXID: spdxId(s, `runtime-${rf.name}-${rf.version}`),
      name: rf.name,
      versionInfo: rf.version,
      packageFileName: rf.path,
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      checksums: [{ algorithm: 'SHA256', checksumValue: hexOf(rf.digest) }],
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      primaryPackagePurpose: 'APPLICATION',
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: rf.purl }],
      comment: `carried runtime: runs vault-bundle on the box${rf.origin ? `; from ${rf.origin}` : ''}`,
    };
    addPackage(s, file, root);
    for (const p of rf.packages ?? []) {
      const sri = sriHash(p.integrity); // package-lock.json's integrity of the registry tarball
      const npm: SpdxPackage = {
        SPDXID: spdxId(s, `npm-${p.name}-${p.version}`),
        name: p.name,
        versionInfo: p.version,
        downloadLocation: NOASSERTION,
        filesAnalyzed: false,
        licenseConcluded: NOASSERTION,
        ...(sri ? { checksums: [{ algorithm: sri.alg.replace('-', '') as SpdxChecksum['algorithm'], checksumValue: sri.hex }] } : {}),
        licenseDeclared: licenseOf(s, p.license),
        copyrightText: NOASSERTION,
        primaryPackagePurpose: 'LIBRARY',
        externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: npmPurl(p.name, p.version) }],
        comment: `npm package packed into ${rf.path}`,
      };
      addPackage(s, npm, file.SPDXID);
    }
  }
}

/** The edges the sources recorded, the same ones the CycloneDX SBOM has: meta.dependsOn = "id id id". */
function addDependsOn(s: SpdxState, index: SbomSubject, byArtifact: Map<string, string>): void {
  for (const a of index.artifacts) {
    const from = byArtifact.get(a.id);
    for (const dep of a.meta?.dependsOn?.split(' ').filter(Boolean) ?? []) {
      const to = byArtifact.get(dep);
      if (from && to) s.relationships.push({ spdxElementId: from, relationshipType: 'DEPENDS_ON', relatedSpdxElement: to });
    }
  }
}

function artifactPackage(a: Locked, SPDXID: string, license: string): SpdxPackage {
  // The distributor of a .deb is the vendor its purl names (debian, ubuntu, nvidia).
  const vendor = a.kind === 'apt' ? /^pkg:deb\/([^/]+)\//.exec(a.purl)?.[1] : undefined;
  const homepage = a.meta?.Homepage;
  // SPDX 2.3 has no field for where a package is installed: the package comment says it.
  const inst = installOf(a);
  const comments = a.kind === 'hf' ? undefined : licenceComment(a.meta);
  return {
    SPDXID,
    name: a.name,
    versionInfo: a.version,
    ...(a.meta?.filename ? { packageFileName: a.meta.filename.split('/').at(-1)! } : {}),
    downloadLocation: /^https?:/.test(a.url) ? a.url : NOASSERTION,
    filesAnalyzed: false,
    checksums: [{ algorithm: 'SHA256', checksumValue: hexOf(a.digest) }],
    licenseConcluded: NOASSERTION,
    licenseDeclared: license,
    ...(comments ? { licenseComments: comments } : {}),
    copyrightText: NOASSERTION,
    ...(vendor ? { supplier: `Organization: ${decodeURIComponent(vendor)}` } : {}),
    ...(homepage && /^https?:\/\/\S+$/.test(homepage) ? { homepage } : {}),
    primaryPackagePurpose: purpose[a.kind],
    externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: a.purl }],
    ...(inst ? { comment: `installed on the box at ${installText(inst)}` } : {}),
  };
}

export function spdxJson(index: SbomSubject, indexSha256: string): string {
  return `${JSON.stringify(spdxDocument(index, indexSha256), null, 2)}\n`;
}
