#!/usr/bin/env node
// Prints the "Chart values" table of docs/kubernetes.md from charts/eric/values.yaml (defaults) and
// charts/eric/values.schema.json (descriptions). test/packaging/chart.test.ts checks that the
// docs/kubernetes.md contains exactly this output: after changing a value, run
//   node scripts/chart-values-table.mjs
// and paste the table into docs/kubernetes.md.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const chart = fileURLToPath(new URL('../charts/eric/', import.meta.url));
const values = parse(readFileSync(`${chart}values.yaml`, 'utf8'));
const schema = JSON.parse(readFileSync(`${chart}values.schema.json`, 'utf8'));

// Objects shown as one value (Kubernetes structures, maps of labels).
const whole = new Set(['resources', 'podSecurityContext', 'securityContext', 'labels']);

const rows = [];
function walk(node, schemaNode, path) {
  const key = path.at(-1);
  const isMap = node && typeof node === 'object' && !Array.isArray(node);
  if (key === 'config' && schemaNode?.properties) {
    const accepted = Object.keys(schemaNode.properties).map((name) => `\`${name}\``).join(', ');
    rows.push({ path: path.join('.'), value: '{…}', description: `${schemaNode.description} Accepted: ${accepted}.` });
  }
  if (isMap && Object.keys(node).length > 0 && !whole.has(key)) {
    for (const [child, value] of Object.entries(node)) walk(value, schemaNode?.properties?.[child], [...path, child]);
    return;
  }
  const description = schemaNode?.description ?? '';
  rows.push({ path: path.join('.'), value: node, description });
}
walk(values, schema, []);

const cell = (text) => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const show = (value) => {
  if (value === '') return '`""`';
  if (value === '{…}') return 'see below';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return `\`${cell(text)}\``;
};
const lines = ['| value | default | description |', '|---|---|---|'];
for (const row of rows) lines.push(`| \`${row.path}\` | ${show(row.value)} | ${cell(row.description)} |`);
console.log(lines.join('\n'));
