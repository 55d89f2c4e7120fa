/**
 * Is a document a playbook package this version can import? The JSON schema (playbook-package.schema.json) checks
 * the shape; the checks here what a schema cannot: unique ids, the root first, nodes that belong to the package.
 */
import Ajv from 'ajv';
import schema from './playbook-package.schema.json';
import { isObject, PACKAGE_FORMAT, PACKAGE_FORMAT_VERSION, PlaybookError, type PlaybookPackage } from './model';
import { codeNodes, type CodeNode } from './trust';

const ajv = new Ajv({ allErrors: true, strict: false });
const validateSchema = ajv.compile(schema);

export interface PackageValidation {
  valid: boolean;
  errors: string[];
  warnings: string[];
  /**
   * The nodes that carry code, commands, files or addresses (or are of a type that is not inert): imported without
   * trust they become placeholders or lose those properties; with trust they run on the SOAR host on Deploy.
   */
  codeNodes: CodeNode[];
}

function schemaProblems(): string[] {
  return (validateSchema.errors ?? []).map((e) => {
    const where = e.instancePath ? e.instancePath.replace(/^\//, '').replace(/\//g, '.') : 'the package';
    const extra =
      e.keyword === 'const' || e.keyword === 'enum'
        ? ` (${JSON.stringify((e.params as { allowedValue?: unknown; allowedValues?: unknown }).allowedValue ?? (e.params as { allowedValues?: unknown }).allowedValues)})`
        : '';
    return e.keyword === 'false schema' ? `${where} must not be there (a secret)` : `${where} ${e.message}${extra}`;
  });
}

function structureProblems(pkg: PlaybookPackage, errors: string[], warnings: string[]): void {
  const root = pkg.flow[0];
  if (root.type !== pkg.playbook.kind) {
    errors.push(`flow[0] must be the ${pkg.playbook.kind} node (playbook.kind), not a ${root.type}`);
  }
  // One flow tab (or none, for a subflow): an update replaces one tab, and extra tabs would be added every time.
  const tabs = pkg.flow.filter((n) => n.type === 'tab').length;
  const allowed = pkg.playbook.kind === 'tab' ? 1 : 0;
  if (tabs > allowed) {
    errors.push(
      `the package holds ${tabs} flow tabs; a playbook package holds ${allowed ? 'one' : 'none (a subflow)'}`,
    );
  }
  const ids = new Set<string>();
  for (const n of pkg.flow) {
    if (ids.has(n.id)) errors.push(`node id ${n.id} is used twice`);
    ids.add(n.id);
  }
  const containers = new Set(pkg.flow.filter((n) => n.type === 'tab' || n.type === 'subflow').map((n) => n.id));
  for (const n of pkg.flow) {
    if (n.z && !containers.has(n.z)) errors.push(`node ${n.id} (${n.type}) is on ${n.z}, which is not in the package`);
    if (Array.isArray(n.wires)) {
      for (const port of n.wires) {
        for (const target of Array.isArray(port) ? port : []) {
          if (typeof target === 'string' && !ids.has(target)) {
            warnings.push(`node ${n.id} (${n.type}) is wired to ${target}, which is not in the package`);
          }
        }
      }
    }
  }
  if (pkg.formatVersion > PACKAGE_FORMAT_VERSION) {
    errors.push(
      `the package has format version ${pkg.formatVersion}; this node-red-contrib-soar reads ${PACKAGE_FORMAT_VERSION}: update node-red-contrib-soar`,
    );
  }
}

export function validatePackage(doc: unknown): PackageValidation {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (Array.isArray(doc)) {
    const why = "not a playbook package but a flow export (a JSON array of nodes): import it with Node-RED's Import";
    return { valid: false, errors: [why], warnings, codeNodes: [] };
  }
  if (!isObject(doc)) {
    return { valid: false, errors: ['not a playbook package: a package is a JSON object'], warnings, codeNodes: [] };
  }
  if (doc.format !== PACKAGE_FORMAT) {
    return {
      valid: false,
      errors: [`not a playbook package: "format" must be "${PACKAGE_FORMAT}", not ${JSON.stringify(doc.format)}`],
      warnings,
      codeNodes: [],
    };
  }
  if (!validateSchema(doc)) errors.push(...schemaProblems());
  else structureProblems(doc as unknown as PlaybookPackage, errors, warnings);
  const code = errors.length === 0 ? codeNodes((doc as unknown as PlaybookPackage).flow) : [];
  for (const n of code) {
    warnings.push(
      `node ${n.id} (${n.type}${n.name ? `, "${n.name}"` : ''}) carries code, a command, a file or an address ` +
        `(${Object.keys(n.code).join(', ') || 'its type runs what it is configured with'}): imported without trust it ` +
        'becomes a placeholder or loses it; review it before importing with trust',
    );
  }
  return { valid: errors.length === 0, errors, warnings, codeNodes: code };
}

/** The document as a package, or a PlaybookError listing every problem. */
export function assertValidPackage(doc: unknown): PlaybookPackage {
  const result = validatePackage(doc);
  if (!result.valid) throw new PlaybookError(`invalid playbook package: ${result.errors.join('; ')}`);
  return doc as PlaybookPackage;
}
