// Reading the configuration schema as plain JSON Schema: the loader walks it to fill defaults,
// derive environment variables and phrase problems, so these few questions are answered once.
// Keys come from the user's file, so every lookup is an own-property lookup: a key such as
// `constructor` or `__proto__` must find nothing, never Object.prototype.

/** A JSON Schema node as TypeBox emits it (only the keywords the configuration uses). */
export interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  items?: SchemaNode | SchemaNode[];
  anyOf?: SchemaNode[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  pattern?: string;
  errorMessage?: string;
  writeOnly?: boolean;
}

export type Segment = string | number;

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const ownValue = (obj: unknown, key: Segment): unknown =>
  (isPlainObject(obj) || Array.isArray(obj)) && Object.hasOwn(obj, key) ? (obj as Record<Segment, unknown>)[key] : undefined;

export const valueAt = (root: unknown, segs: readonly Segment[]): unknown => segs.reduce<unknown>((o, s) => ownValue(o, s), root);

/** Sets an own property (never a prototype's setter, whatever the key). */
export function defineOwn(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

export const isSection = (node: SchemaNode): boolean => node.type === 'object' && node.properties !== undefined;
export const isMap = (node: SchemaNode): boolean => node.type === 'object' && node.patternProperties !== undefined;

/** The one value schema of a map (`patternProperties`) and the pattern its keys must match. */
export function mapEntry(node: SchemaNode): { pattern: RegExp; entry: SchemaNode } {
  const [pattern, entry] = Object.entries(node.patternProperties ?? {})[0];
  return { pattern: new RegExp(pattern, 'u'), entry };
}

/** The schema a child value is checked against (`undefined` when `key` is not allowed there). */
export function childSchema(node: SchemaNode, key: Segment): SchemaNode | undefined {
  if (node.anyOf) {
    for (const branch of node.anyOf) {
      const child = childSchema(branch, key);
      if (child) return child;
    }
    return undefined;
  }
  if (node.type === 'object') {
    const name = String(key);
    if (node.properties && Object.hasOwn(node.properties, name)) return node.properties[name];
    // A map's entry schema applies to every key: the body of a badly named camera is still checked.
    return node.patternProperties ? mapEntry(node).entry : undefined;
  }
  if (node.type === 'array' && typeof key === 'number') {
    return Array.isArray(node.items) ? node.items[key] : node.items;
  }
  return undefined;
}

/** The schema nodes from `root` down to `segs`, one per prefix (shorter when the path leaves the schema). */
export function schemaPath(root: SchemaNode, segs: readonly Segment[]): SchemaNode[] {
  const nodes = [root];
  for (const s of segs) {
    const child = childSchema(nodes[nodes.length - 1], s);
    if (!child) break;
    nodes.push(child);
  }
  return nodes;
}

/** The non-null alternative of a nullable node (the node itself otherwise). */
export const nonNull = (node: SchemaNode): SchemaNode => node.anyOf?.find((b) => b.type !== 'null') ?? node;
export const acceptsNull = (node: SchemaNode): boolean => node.type === 'null' || (node.anyOf ?? []).some((b) => b.type === 'null');
