import { expect, test } from '@playwright/test';

import { ADMIN_EMAIL, ADMIN_PASSWORD, signIn, submitStoreSwitch, waitForHydration } from './support';

test('a wrong password keeps the user signed out', async ({ page }) => {
  await page.goto('/sign-in');
  await waitForHydration(page);
  await page.getByLabel('Email').fill(ADMIN_EMAIL);
  await page.getByLabel('Password').fill('definitely-wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('wrong');
  await expect(page.getByTestId('viewer-email')).toHaveCount(0);
});

test('admin creates a store and an API key, which is masked after reload', async ({ page }) => {
  await signIn(page);

  // Create a store from the platform page; its sandbox key is revealed once.
  await page.getByRole('link', { name: 'Stores' }).click();
  await expect(page.getByRole('heading', { name: 'Stores' })).toBeVisible();
  const storeName = `E2E Shop ${Date.now()}`;
  const createStore = page.locator('#create-store');
  await createStore.getByLabel('Name').fill(storeName);
  await createStore.getByLabel('Currency').fill('EUR');
  await createStore.getByRole('button', { name: 'Create store' }).click();
  await expect(page.getByTestId('secret')).toContainText('sk_test_');
  await expect(page.locator('#stores')).toContainText(storeName);

  // Open it with the store switcher.
  await page.reload();
  await waitForHydration(page);
  const switcher = page.locator('#store-switcher');
  await switcher.getByLabel('Store').selectOption({ label: storeName });
  await submitStoreSwitch(page);
  await expect(switcher.getByLabel('Store')).toHaveValue(/.+/);
  await expect(switcher.locator('option:checked')).toHaveText(storeName);
  // The store is opened by the session: after a reload it is still the one chosen (and no
  // navigation of the switcher's is still under way when the next link is clicked).
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('#store-switcher option:checked')).toHaveText(storeName);

  // Create an API key: the secret shows once.
  await page.getByRole('link', { name: 'API keys' }).click();
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'API keys' })).toBeVisible();
  const form = page.locator('#create-key');
  await form.getByLabel('Name').fill('checkout');
  await form.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.getByTestId('secret').textContent())?.trim() ?? '';
  expect(secret).toMatch(/^sk_test_[A-Za-z0-9_-]{32}$/);
  await expect(page.locator('#api-keys')).toContainText('checkout');

  // After a reload only masked hints remain.
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('#api-keys')).toContainText('checkout');
  const html = await page.content();
  expect(html).not.toContain(secret);
  const hints = await page.getByTestId('key-hint').allTextContents();
  expect(hints.length).toBe(2);
  for (const hint of hints) expect(hint).toMatch(/^sk_test_.{4}….{4}$/);

  // Sign out ends the session.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await page.goto('/api-keys');
  await expect(page.getByText('You are signed out.')).toBeVisible();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('sign-in works as a plain form post', async ({ page }) => {
    await page.goto('/sign-in');
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByTestId('viewer-email')).toHaveText(ADMIN_EMAIL);
    await page.goto('/platform/stores');
    await expect(page.getByRole('heading', { name: 'Stores' })).toBeVisible();
  });
});
