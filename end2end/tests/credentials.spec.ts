import { expect, test } from '@playwright/test';

import { signIn, waitForHydration } from './support';

const SECRET = 'sbx_e2e_known_secret_value_0123456789';
const WEBHOOK = 'whsec_e2eKnownWebhookSecret0123456789';

test('merchant credentials are saved and only ever shown masked', async ({ page }) => {
  await signIn(page);
  // A store to work in (it comes with sandbox credentials).
  await page.goto('/platform/stores');
  await waitForHydration(page);
  const name = `Creds ${Date.now()}`;
  await page.locator('#create-store').getByLabel('Name').fill(name);
  await page.locator('#create-store').getByRole('button', { name: 'Create store' }).click();
  await expect(page.locator('#stores')).toContainText(name);
  await page.reload();
  await waitForHydration(page);
  const switcher = page.locator('#store-switcher');
  await switcher.getByLabel('Store').selectOption({ label: name });
  await switcher.getByRole('button', { name: 'Open' }).click();
  await expect(switcher.locator('option:checked')).toHaveText(name);

  await page.goto('/credentials');
  await waitForHydration(page);
  await expect(page.getByTestId('credentials-env')).toHaveText('sandbox');
  await expect(page.locator('#credentials tr[data-provider="sandbox"]')).toBeVisible();

  const form = page.locator('#put-credentials');
  await form.getByLabel('Provider').selectOption('sandbox');
  await form.getByLabel('API key / secret key').fill(SECRET);
  await form.getByLabel('Webhook signing secret').fill(WEBHOOK);
  await form.getByRole('button', { name: 'Save credentials' }).click();
  await expect(page.getByRole('status')).toContainText('Saved sandbox credentials');
  await expect(page.locator('#credentials')).toContainText('sbx_…6789');

  await page.reload();
  await waitForHydration(page);
  const html = await page.content();
  expect(html).not.toContain(SECRET);
  expect(html).not.toContain(WEBHOOK);
  await expect(page.locator('#credentials')).toContainText('whse…6789');
});

test('platform admin rotates the master key and sees it complete', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: 'Master keys', exact: true }).click();
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'Master keys' })).toBeVisible();
  await expect(page.locator('#key-versions tr[data-version="1"] [data-testid="key-status"]')).toHaveText('primary');
  await page.locator('#start-rotation').getByRole('button', { name: 'Start rotation' }).click();
  await expect(page.locator('#rotations [data-testid="rotation-status"]').first()).toHaveText('completed');
});
