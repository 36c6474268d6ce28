// Fills in the schema's `default`s where a key is absent, before validation, so that the validated
// value is the complete configuration and defaults go through the same resolution (a relative
// default path resolves like a written one). The shared ajv instance does not apply defaults
// itself (other boundaries must not be changed by their schemas). An absent or empty (`null`)
// section counts as `{}`, as a YAML `mqtt:` with nothing under it means.
import { defineOwn, isMap, isPlainObject, isSection, mapEntry, ownValue, type SchemaNode } from './schema-nodes.ts';

export function fillDefaults(node: SchemaNode, value: Record<string, unknown>): void {
  if (isMap(node)) {
    const { entry } = mapEntry(node);
    for (const key of Object.keys(value)) {
      const body = ownValue(value, key);
      if (isPlainObject(body)) fillDefaults(entry, body);
    }
    return;
  }
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    let current = ownValue(value, key);
    if ((isSection(child) || isMap(child)) && (current === undefined || current === null)) {
      current = {};
      defineOwn(value, key, current);
    } else if (current === undefined && 'default' in child) {
      defineOwn(value, key, structuredClone(child.default));
    }
    if (isPlainObject(current)) fillDefaults(child, current);
  }
}
