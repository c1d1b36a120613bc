// What every console test needs: the seeded admin, hydration, the API with fresh keys, and a
// new store opened in the console.
import { expect, type APIRequestContext, type Page } from '@playwright/test';

export const ADMIN_EMAIL = 'admin@e2e.test';
export const ADMIN_PASSWORD = 'e2e-admin-password';

/** Effects run only in the browser: the app marks the body once hydration finished. */
export async function waitForHydration(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

export async function signIn(page: Page) {
  await page.goto('/sign-in');
  await waitForHydration(page);
  await page.getByLabel('Email').fill(ADMIN_EMAIL);
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('viewer-email')).toHaveText(ADMIN_EMAIL);
}

let keyCounter = 0;

/** An API call with a fresh Idempotency-Key that must succeed; its JSON body. */
export async function call(request: APIRequestContext, method: 'POST' | 'PUT', path: string, token: string, data: unknown) {
  keyCounter += 1;
  const response = await request.fetch(path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'idempotency-key': `e2e-${Date.now()}-${keyCounter}` },
    data,
  });
  expect(response.ok(), `${method} ${path}: ${await response.text()}`).toBeTruthy();
  return response.json();
}

/** Creates a store from the platform page (signed in as the admin); its sandbox key. */
export async function createStore(page: Page, name: string): Promise<string> {
  await page.goto('/platform/stores');
  await waitForHydration(page);
  await page.locator('#create-store').getByLabel('Name').fill(name);
  await page.locator('#create-store').getByRole('button', { name: 'Create store' }).click();
  return (await page.getByTestId('secret').textContent())!.trim();
}

/** Opens the store called `name` in the console's switcher. */
export async function openStore(page: Page, name: string) {
  await page.reload();
  await waitForHydration(page);
  const switcher = page.locator('#store-switcher');
  await switcher.getByLabel('Store').selectOption({ label: name });
  await switcher.getByRole('button', { name: 'Open' }).click();
  await expect(switcher.locator('option:checked')).toHaveText(name);
}
