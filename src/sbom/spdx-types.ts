/** The SPDX 2.3 JSON document's shapes, as far as spdx.ts writes them (spdx.github.io/spdx-spec/v2.3). */
export interface SpdxChecksum {
  algorithm: 'SHA256' | 'SHA384' | 'SHA512';
  checksumValue: string;
}

export interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  packageFileName?: string;
  downloadLocation: string;
  filesAnalyzed: false;
  checksums?: SpdxChecksum[];
  licenseConcluded: string;
  licenseDeclared: string;
  /** Where the declared licence was read, or why there is none (licence-facts.ts). */
  licenseComments?: string;
  copyrightText: 'NOASSERTION';
  supplier?: string;
  homepage?: string;
  primaryPackagePurpose?: 'APPLICATION' | 'LIBRARY' | 'ARCHIVE' | 'FILE' | 'INSTALL' | 'OTHER';
  externalRefs?: { referenceCategory: 'PACKAGE-MANAGER'; referenceType: 'purl'; referenceLocator: string }[];
  comment?: string;
}

export interface SpdxRelationship {
  spdxElementId: string;
  relationshipType: 'DESCRIBES' | 'CONTAINS' | 'DEPENDS_ON';
  relatedSpdxElement: string;
}

export interface SpdxDocument {
  spdxVersion: 'SPDX-2.3';
  dataLicense: 'CC0-1.0';
  SPDXID: 'SPDXRef-DOCUMENT';
  name: string;
  documentNamespace: string;
  creationInfo: { created: string; creators: string[]; comment?: string };
  packages: SpdxPackage[];
  relationships: SpdxRelationship[];
  hasExtractedLicensingInfos?: { licenseId: string; extractedText: string; name: string; comment: string }[];
}
