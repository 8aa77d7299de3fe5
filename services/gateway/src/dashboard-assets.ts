/**
 * The dashboard's files, read once at start and served from memory: the page, its own modules
 * and style (public/), and uPlot, the charting library, from the gateway's npm dependencies. The
 * page loads nothing from anywhere but the gateway: no CDN, it works offline and under a strict
 * Content-Security-Policy. Only the files listed here are served; no path reaches the disk.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  contentType: string;
}

// Kept outside src/ so the same relative path works from src/ (tests) and dist/ (the build).
const PUBLIC = new URL('../public/', import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** URL path → file, for every file of the dashboard. */
export function loadDashboardAssets(): Map<string, Asset> {
  const resolve = createRequire(import.meta.url).resolve;
  const files = new Map<string, string>([
    ['/', fileURLToPath(new URL('index.html', PUBLIC))],
    ['/vendor/uPlot.esm.js', resolve('uplot/dist/uPlot.esm.js')],
    ['/vendor/uPlot.min.css', resolve('uplot/dist/uPlot.min.css')],
  ]);
  for (const name of readdirSync(new URL('dashboard/', PUBLIC))) {
    files.set(`/dashboard/${name}`, fileURLToPath(new URL(`dashboard/${name}`, PUBLIC)));
  }
  const assets = new Map<string, Asset>();
  for (const [path, file] of files) {
    const contentType = CONTENT_TYPES[extname(file)];
    if (contentType) assets.set(path, { body: readFileSync(file), contentType });
  }
  return assets;
}
