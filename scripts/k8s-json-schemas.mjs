#!/usr/bin/env node
// Turns Kubernetes' own OpenAPI v2 document (api/openapi-spec/swagger.json of the k8s.io/kubernetes
// module) and CustomResourceDefinition files into strict JSON schemas, one file per kind, in the
// layout kubeconform reads with `-schema-location '<dir>/{{ .ResourceKind }}{{ .KindSuffix }}.json'`
// (e.g. statefulset-apps-v1.json, service-v1.json, servicemonitor-monitoring-v1.json).
//
// "Strict" means unknown fields are errors: every object schema that lists its properties gets
// `additionalProperties: false`, as `kubectl apply --validate=strict` would reject them. Two
// Kubernetes types are written differently in YAML than their OpenAPI type says and are widened:
// IntOrString (a port may be 8080 or "http") and Quantity (cpu: 1 or "500m").
//
//   node scripts/k8s-json-schemas.mjs <out dir> <swagger.json> [crd.yaml ...]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const [outDir, swaggerPath, ...crdPaths] = process.argv.slice(2);
if (!outDir || !swaggerPath) {
  console.error('usage: k8s-json-schemas.mjs <out dir> <swagger.json> [crd.yaml ...]');
  process.exit(2);
}

const INT_OR_STRING = { anyOf: [{ type: 'string' }, { type: 'integer' }] };
const QUANTITY = { anyOf: [{ type: 'string' }, { type: 'number' }] };

/** kubeconform's file name for a kind: kind + "-" + first label of the group + "-" + version. */
function fileName(group, version, kind) {
  const groupLabel = group === '' ? '' : `-${group.split('.')[0]}`;
  return `${kind.toLowerCase()}${groupLabel}-${version}.json`.toLowerCase();
}

/** Adds additionalProperties: false to every object schema with properties, recursively. */
function strict(node) {
  if (Array.isArray(node)) return node.map(strict);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    // `properties` maps field names to schemas: recurse into the schemas, never treat the map
    // itself as a schema (a field could be called "type").
    out[key] = key === 'properties' || key === 'definitions' || key === 'patternProperties'
      ? Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, strict(schema)]))
      : strict(value);
  }
  if (out['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    Object.assign(out, INT_OR_STRING);
  }
  const open = out['x-kubernetes-preserve-unknown-fields'] === true;
  if (out.properties && out.additionalProperties === undefined && !open) out.additionalProperties = false;
  return out;
}

const written = new Map();
function write(group, version, kind, schema) {
  const name = fileName(group, version, kind);
  const owner = `${group}/${version}/${kind}`;
  if (written.has(name) && written.get(name) !== owner) {
    throw new Error(`two kinds map to ${name}: ${written.get(name)} and ${owner}`);
  }
  written.set(name, owner);
  writeFileSync(join(outDir, name), `${JSON.stringify(schema)}\n`);
}

mkdirSync(outDir, { recursive: true });

// --- Built-in kinds from swagger.json -------------------------------------------------------
const swagger = JSON.parse(readFileSync(swaggerPath, 'utf8'));
const definitions = {};
for (const [name, definition] of Object.entries(swagger.definitions)) {
  if (name === 'io.k8s.apimachinery.pkg.util.intstr.IntOrString') {
    definitions[name] = { description: definition.description, ...INT_OR_STRING };
  } else if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity') {
    definitions[name] = { description: definition.description, ...QUANTITY };
  } else {
    definitions[name] = strict(definition);
  }
}

/** The definitions a schema reaches through $ref, so each file carries only what it needs. */
function reachable(root) {
  const seen = new Set([root]);
  const queue = [root];
  while (queue.length > 0) {
    const text = JSON.stringify(definitions[queue.pop()]);
    for (const match of text.matchAll(/"\$ref":"#\/definitions\/([^"]+)"/g)) {
      if (!seen.has(match[1])) {
        seen.add(match[1]);
        queue.push(match[1]);
      }
    }
  }
  return seen;
}

let builtIn = 0;
for (const [name, definition] of Object.entries(definitions)) {
  const gvks = swagger.definitions[name]['x-kubernetes-group-version-kind'] ?? [];
  // A type registered under several group/versions (e.g. DeleteOptions) is not a resource of its own.
  if (gvks.length !== 1 || !definition.properties?.metadata) continue;
  const { group, version, kind } = gvks[0];
  const own = {};
  for (const ref of reachable(name)) own[ref] = definitions[ref];
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    description: definition.description,
    $ref: `#/definitions/${name}`,
    definitions: own,
  };
  // apiVersion and kind must name exactly this kind (the OpenAPI document only says "string").
  own[name] = {
    ...definition,
    properties: {
      ...definition.properties,
      apiVersion: { type: 'string', enum: [group === '' ? version : `${group}/${version}`] },
      kind: { type: 'string', enum: [kind] },
    },
    required: [...new Set([...(definition.required ?? []), 'apiVersion', 'kind'])],
  };
  write(group, version, kind, schema);
  builtIn += 1;
}

// --- CustomResourceDefinitions --------------------------------------------------------------
let custom = 0;
for (const path of crdPaths) {
  for (const document of parseAllDocuments(readFileSync(path, 'utf8'))) {
    const crd = document.toJS();
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    const { group, names } = crd.spec;
    for (const version of crd.spec.versions) {
      const body = strict(version.schema.openAPIV3Schema);
      body.properties = {
        ...body.properties,
        apiVersion: { type: 'string', enum: [`${group}/${version.name}`] },
        kind: { type: 'string', enum: [names.kind] },
        // A CRD's schema says only "metadata: object"; hold it to ObjectMeta like any other kind.
        metadata: { $ref: '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' },
      };
      body.required = [...new Set([...(body.required ?? []), 'apiVersion', 'kind'])];
      const own = {};
      for (const ref of reachable('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta')) own[ref] = definitions[ref];
      write(group, version.name, names.kind, { $schema: 'http://json-schema.org/draft-07/schema#', ...body, definitions: own });
      custom += 1;
    }
  }
}
console.log(`k8s-json-schemas: ${builtIn} built-in and ${custom} custom kinds in ${outDir}`);
