import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const dashboardRoot = fileURLToPath(new URL('../../', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
export const SCREENSHOTS = join(repoRoot, 'docs', 'screenshots');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * The tests run against the assets the service serves. `npm ci` builds them; rebuild here when
 * the sources are newer, so a developer never tests yesterday's page.
 */
export function ensureDashboardBuilt(): void {
  const index = join(dashboardRoot, 'dist', 'index.html');
  const sources = Math.max(newestMtime(join(dashboardRoot, 'web')), statSync(join(dashboardRoot, 'vite.config.ts')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(dashboardRoot, 'vite.config.ts')], { cwd: dashboardRoot, stdio: 'inherit' });
}

/**
 * Debian's Chromium, headless, with the flags this machine needs (no sandbox as root, no GPU, and
 * no background connections: the network is closed and Chromium would keep trying).
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`bash infra/scripts/chromium.sh\` (make test and CI do)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** The origin serving the page, from the test API's base URL (…/api/v1). */
export const originOf = (apiBaseUrl: string) => apiBaseUrl.replace(/\/api\/v1$/, '');

/** Sign in through the login form, as a person does. */
export async function login(page: Page, origin: string, token: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Fleet overview' }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}
