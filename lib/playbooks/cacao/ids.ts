/**
 * CACAO identifiers are `<object type>--<UUID>`. Ours are UUIDv5 (RFC 9562, SHA-1 name based) so exporting the same
 * flow twice gives the same document: the playbook's UUID comes from the playbook id, every step's from the node id.
 */
import { createHash } from 'node:crypto';

/** Namespace of all node-red-contrib-soar names (itself a UUIDv5 of the project URL in the URL namespace). */
export const SOAR_NAMESPACE = uuidV5(
  'https://github.com/node-red-contrib-soar/node-red-contrib-soar',
  '6ba7b811-9dad-11d1-80b4-00c04fd430c8',
);

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}';
export const IDENTIFIER = new RegExp(`^([a-z][a-z0-9-]+[a-z0-9])--(${UUID})$`);

export function uuidV5(name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `action--<uuid>` → `action`; undefined when the id is not a CACAO identifier. */
export function identifierType(id: string): string | undefined {
  return IDENTIFIER.exec(id)?.[1];
}

/** The playbook's UUID: kept when the id already is a CACAO playbook id (an imported playbook), else derived. */
export function playbookUuid(playbookId: string): string {
  const match = IDENTIFIER.exec(playbookId);
  if (match && match[1] === 'playbook') return match[2]!.toLowerCase();
  return uuidV5(`playbook:${playbookId}`, SOAR_NAMESPACE);
}

/** An id scoped to one playbook: `<type>--uuidv5(name, playbook uuid)`. */
export function scopedId(type: string, name: string, playbook: string): string {
  return `${type}--${uuidV5(name, playbook)}`;
}
