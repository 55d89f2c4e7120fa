/**
 * Device types as plug-ins declare them, checked once: a well-formed id, known capabilities, JSON schemas that
 * compile, a factory. A device's settings and credentials are validated against its type's schemas before the
 * factory sees them, so a plug-in gets only data it declared.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import { CAPABILITIES, type DeviceType } from './model';

const ID = /^[a-z][a-z0-9-]{0,63}$/;
const KNOWN: ReadonlySet<string> = new Set(CAPABILITIES);

/** A device type that passed the checks, with its compiled validators. */
export interface CheckedDeviceType {
  readonly type: DeviceType;
  readonly validateSettings: ValidateFunction;
  readonly validateCredentials: ValidateFunction;
}

export class DeviceTypeError extends Error {}

const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true });

function compile(schema: unknown, what: string): ValidateFunction {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw new DeviceTypeError(`${what} must be a JSON schema object`);
  }
  try {
    return ajv.compile(schema);
  } catch (err) {
    throw new DeviceTypeError(`${what} is not a valid JSON schema: ${(err as Error).message}`);
  }
}

/** Checks a device type definition; throws a DeviceTypeError naming what is wrong. */
export function checkDeviceType(input: unknown): CheckedDeviceType {
  const t = input as Partial<DeviceType> | null;
  if (t === null || typeof t !== 'object') throw new DeviceTypeError('a device type must be an object');
  if (typeof t.id !== 'string' || !ID.test(t.id)) {
    throw new DeviceTypeError(`device type id ${JSON.stringify(t.id)} must match ${ID}`);
  }
  const name = `device type ${t.id}`;
  if (typeof t.label !== 'string' || t.label.trim() === '') throw new DeviceTypeError(`${name}: label is missing`);
  if (!Array.isArray(t.capabilities) || t.capabilities.length === 0) {
    throw new DeviceTypeError(`${name}: capabilities must list at least one of ${CAPABILITIES.join(', ')}`);
  }
  for (const c of t.capabilities) {
    if (!KNOWN.has(c)) throw new DeviceTypeError(`${name}: unknown capability ${JSON.stringify(c)}`);
  }
  if (typeof t.create !== 'function') throw new DeviceTypeError(`${name}: create must be a function`);
  return {
    type: t as DeviceType,
    validateSettings: compile(t.settingsSchema, `${name}: settingsSchema`),
    validateCredentials: compile(t.credentialsSchema, `${name}: credentialsSchema`),
  };
}

/** The ajv errors of a failed validation as one sentence. */
export function schemaErrors(validate: ValidateFunction): string {
  return ajv.errorsText(validate.errors, { dataVar: '', separator: '; ' }).replace(/^\//, '');
}
