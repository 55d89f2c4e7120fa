/** Playbook packages: export, validate and import a flow as one shareable JSON document. No Node-RED import. */
export * from './model';
export { stripSecrets, isSecretName, type StripResult } from './secrets';
export { validatePackage, assertValidPackage, type PackageValidation } from './validate';
export { exportPlaybook, listPlaybooks, findPlaybookRoot, packageFileName, type ExportOptions } from './export';
export { importPlaybook, remapIds, type ImportOptions, type ImportResult } from './import';
export {
  scanInstalledTypes,
  computeRequires,
  checkRequires,
  offeredCapabilities,
  type TypeIndex,
  type RequirementReport,
} from './requires';
export { compareVersions, isSemver } from './semver';
export { readFlowsFile, writeFlowsFile } from './flows-file';
export { playbookMeta, rootIdentity } from './metadata';
export { PlaybookLibrary, MAX_LIBRARY_FILE_BYTES, type LibraryFile, type FlowConverter } from './library';
export { isCacaoDocument, exportCacao, packageFromCacao, asPackage } from './cacao';
export {
  applyTrust,
  untrustedFlow,
  codeNodes,
  runsNothing,
  type TrustOptions,
  type CodeNode,
  type UntrustedFlow,
} from './trust';
