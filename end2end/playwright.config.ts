import { defineConfig } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The server under test is the binary cargo-leptos just built, on a fresh SQLite database in a
// temporary folder, with the console assets from the site folder. scripts/test sets these; the
// defaults fit a plain `cargo leptos build` in this checkout.
const repo = path.resolve(__dirname, '..');
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(repo, 'target');
const binary = process.env.CASSA_BIN ?? path.join(targetDir, 'debug', 'cassa');
const siteRoot = process.env.CASSA_SITE_ROOT ?? path.join(repo, 'target', 'site');
const port = Number(process.env.E2E_PORT ?? 3100);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cassa-e2e-'));

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'off',
    // Browser downloads cannot work here: use Debian's Chromium.
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `"${binary}" serve`,
    url: `http://127.0.0.1:${port}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      CASSA_LISTEN_ADDR: `127.0.0.1:${port}`,
      CASSA_DATA_DIR: dataDir,
      DATABASE_URL: `sqlite://${path.join(dataDir, 'cassa.db')}`,
      LEPTOS_SITE_ROOT: siteRoot,
      RUST_LOG: 'warn',
      CASSA_ADMIN_EMAIL: 'admin@e2e.test',
      CASSA_ADMIN_PASSWORD: 'e2e-admin-password',
      // The tests export right after capturing, one request at a time: nothing is still committing.
      CASSA_TAX_EXPORT_SETTLE_SECS: '0',
    },
  },
});
