import { defineConfig } from '@playwright/test';

import base from './playwright.config';

// The console's main pages on the demo store (`cassa serve --demo`), saved as PNGs under
// docs/screenshots/ by scripts/screenshots. Not part of the test suite.
export default defineConfig({
  ...base,
  testDir: './screenshots',
  timeout: 180_000,
  use: { ...base.use, viewport: { width: 1280, height: 860 } },
  webServer: {
    ...(base.webServer as object),
    // Seeding a few hundred payments through the API takes a while on a small machine.
    command: (base.webServer as { command: string }).command + ' --demo',
    timeout: 600_000,
  },
});
