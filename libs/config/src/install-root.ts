import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The root package.json's name: what marks the top of an installation (the repository, the image's /app). */
export const ROOT_PACKAGE_NAME = 'zfs-sync';

/** The nearest directory above `file` whose package.json is named "zfs-sync". */
export function findInstallRoot(file: string): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === ROOT_PACKAGE_NAME) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json named "${ROOT_PACKAGE_NAME}" above ${file}: the installation is incomplete`);
  }
}

let root: string | undefined;

/**
 * The installation's root directory (the repository; /app in the image). The same code runs from
 * its sources (libs/config/src/…, through tsx) and bundled (dist/…, plain node), at different
 * depths below the root, so whatever ships with the installation — package.json, the dashboard's
 * build, the bundles — is found from here instead of from a fixed number of `../`.
 */
export function installRoot(): string {
  root ??= findInstallRoot(fileURLToPath(import.meta.url));
  return root;
}

/** The root package.json's version: what every process reports as its own (logs, /health, metrics). */
export function installVersion(): string {
  return (JSON.parse(readFileSync(join(installRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
