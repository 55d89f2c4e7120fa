/**
 * What a node keeps of its CACAO step, in the node's Description (`info`), the one free-text property the
 * Node-RED editor keeps for every node type: the step id (so re-exporting an imported flow gives the same ids) and,
 * for steps that came from another tool, the step's CACAO fields (commands, agent, targets, variables, …) as a
 * fenced `cacao` JSON block the analyst can read while completing the node.
 */
import { isObject, type JsonObject } from './types';

const BLOCK = /(?:^|\n)```cacao\n([\s\S]*?)\n```\s*$/;
const MARKER = /(?:^|\n)CACAO step `([^`]+)`\s*$/;

export interface Notes {
  description?: string;
  stepId?: string;
  block?: JsonObject;
}

export function writeNotes(notes: Notes): string {
  const parts: string[] = [];
  if (notes.description?.trim()) parts.push(notes.description);
  if (notes.stepId) parts.push(`CACAO step \`${notes.stepId}\``);
  if (notes.block) parts.push('```cacao\n' + JSON.stringify(notes.block, null, 2) + '\n```');
  return parts.join('\n\n');
}

export function readNotes(info: unknown): Notes {
  if (typeof info !== 'string' || !info.trim()) return {};
  let text = info;
  const notes: Notes = {};
  const block = BLOCK.exec(text);
  if (block) {
    try {
      const parsed: unknown = JSON.parse(block[1]!);
      if (isObject(parsed)) notes.block = parsed as JsonObject;
      text = text.slice(0, block.index);
    } catch {
      // An edited block that no longer parses is left in the description.
    }
  }
  const marker = MARKER.exec(text);
  if (marker) {
    notes.stepId = marker[1];
    text = text.slice(0, marker.index);
  }
  // Descriptions are kept exactly (only the blank line before the marker goes), so re-export is identical.
  if (text.trim()) notes.description = text.replace(/\n$/, '');
  return notes;
}
