/** Pieces of the reasons given to people when a record cannot become an alert. */

/** A value's JSON type for messages: "a string", "an array", "an object", "null", "missing". */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** Why a value that is not a JSON object cannot be an alert record. */
export function notAnObjectReason(record: unknown): string {
  if (Array.isArray(record)) {
    return 'the record is an array, not one alert: send each alert as its own record (the alert intake splits JSON arrays and NDJSON)';
  }
  return `the record is ${describeType(record)}, not a JSON object: each alert must be one JSON object`;
}

/** The message of anything thrown; JSONata throws plain objects ({code, message, position}), not Errors. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return String(error);
}
