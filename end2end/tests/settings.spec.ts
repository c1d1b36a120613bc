// Settings → Store: the store's time zone, and every console time shown in it.
import { expect, test } from '@playwright/test';

import { createStore, expectNoSeriousA11yViolations, openStore, signIn, waitForHydration } from './support';

test('a merchant sets the store time zone and the console shows its times in it', async ({ page }) => {
  await signIn(page);
  const name = `Zones ${Date.now()}`;
  await createStore(page, name);
  await openStore(page, name);

  // Times start in UTC, to the minute, how long ago beside them, the exact value on hover.
  await page.goto('/api-keys');
  await waitForHydration(page);
  const created = page.locator('table time').first();
  await expect(created).toContainText(/\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  await expect(created).toContainText(/just now|\d+ min ago/);
  await expect(created).toHaveAttribute('title', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  await page.goto('/settings');
  await waitForHydration(page);
  await expect(page.getByTestId('store-timezone')).toHaveText('UTC');
  await expect(page.getByTestId('store-currency')).toHaveText('USD');
  await expectNoSeriousA11yViolations(page);
  const form = page.locator('#store-profile');
  // A zone the server does not know is refused and nothing changes.
  await form.getByLabel('Time zone').fill('Mars/Olympus');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('settings-result')).toContainText('IANA time zone');
  await expect(page.getByTestId('store-timezone')).toHaveText('UTC');
  await form.getByLabel('Time zone').fill('Asia/Tokyo');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('settings-result')).toContainText('times shown in Asia/Tokyo');
  await expect(page.getByTestId('store-timezone')).toHaveText('Asia/Tokyo');

  await page.goto('/api-keys');
  await waitForHydration(page);
  await expect(page.locator('table time').first()).toContainText(/\d{4}-\d\d-\d\d \d\d:\d\d JST/);
  await expect(page.locator('table time').first()).toHaveAttribute('title', /\+09:00$/);
});
