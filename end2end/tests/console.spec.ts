import { expect, test } from '@playwright/test';

import { waitForHydration } from './support';

test('overview renders, hydrates and refreshes the system status', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });

  await page.goto('/');
  await expect(page).toHaveTitle('Cassa console');
  await waitForHydration(page);

  const status = page.locator('#system-status');
  await expect(status.getByTestId('database-backend')).toHaveText('sqlite');
  await expect(status.getByTestId('database-ready')).toHaveText('ready');
  await expect(status.getByTestId('migrations')).not.toHaveText('0');

  // The refresh button calls a server function from the browser.
  const call = page.waitForResponse(
    (r) => r.url().includes('/console/fn/system_status') && r.request().method() === 'POST',
  );
  await page.locator('#refresh-status').click();
  expect((await call).status()).toBe(200);
  await expect(status.getByTestId('database-ready')).toHaveText('ready');

  // The stylesheet from style/ is served and applied.
  const topbar = page.locator('header.topbar');
  await expect(topbar).toHaveCSS('display', 'flex');

  expect(errors).toEqual([]);
});

test('client-side navigation reaches the sign-in page', async ({ page }) => {
  await page.goto('/');
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByLabel('Email')).toBeEditable();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the overview is readable from the server-rendered HTML', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
    await expect(page.getByTestId('database-backend')).toHaveText('sqlite');
    await expect(page.getByTestId('database-ready')).toHaveText('ready');
  });

  test('unknown pages are a 404 page', async ({ page }) => {
    const response = await page.goto('/definitely/not/here');
    expect(response?.status()).toBe(404);
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  });
});
