// What every console test needs: the seeded admin, hydration, the API with fresh keys, and a
// new store opened in the console.
import AxeBuilder from '@axe-core/playwright';
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

/**
 * Clicks the switcher's Open and waits for the server's answer: the selected option shows the
 * choice at once, but the session holds it only once the server answered, and a navigation
 * before that (slow on a busy machine) would open the previous store.
 */
export async function submitStoreSwitch(page: Page) {
  const opened = page.waitForResponse(
    (r) => r.url().includes('/console/fn/select') && r.request().method() === 'POST',
  );
  await page.locator('#store-switcher').getByRole('button', { name: 'Open' }).click();
  expect((await opened).ok()).toBeTruthy();
}

/** Opens the store called `name` in the console's switcher. */
export async function openStore(page: Page, name: string) {
  await page.reload();
  await waitForHydration(page);
  const switcher = page.locator('#store-switcher');
  await switcher.getByLabel('Store').selectOption({ label: name });
  await submitStoreSwitch(page);
  await expect(switcher.locator('option:checked')).toHaveText(name);
}

/** A Los Angeles order of 100.00 with standard shipping, paid and captured through the API. */
export async function capturedOrder(request: APIRequestContext, key: string) {
  await call(request, 'PUT', '/api/v1/admin/shipping/rates', key, {
    rates: [{ service: 'standard', country: 'US', max_weight_grams: 10000, amount: 1000, currency: 'USD' }],
  });
  const product = await call(request, 'POST', '/api/v1/admin/products', key, {
    sku: `LAMP-${Date.now()}`, name: 'Lamp', unit_amount: 10000, currency: 'USD', weight_grams: 900,
  });
  const customer = await call(request, 'POST', '/api/v1/admin/customers', key, { name: 'Ada' });
  const { token } = await call(request, 'POST', `/api/v1/admin/customers/${customer.id}/tokens`, key, {});
  const order = await call(request, 'POST', '/api/v1/me/orders', token, {
    items: [{ product_id: product.id, quantity: 1 }],
    shipping_address: { name: 'Ada', line1: '1 Main St', city: 'Los Angeles', subdivision: 'CA', postal_code: '90012', country: 'US' },
  });
  const quote = await call(request, 'POST', '/api/v1/me/checkout/quote', token, { order_id: order.id });
  const intent = await call(request, 'POST', `/api/v1/me/orders/${order.id}/payments/authorize`, token, {
    snapshot_id: quote.snapshot_id,
    payment_method: 'pm_card_visa',
  });
  await call(request, 'POST', `/api/v1/admin/orders/${order.id}/payments/${intent.id}/capture`, key, {});
  return { customerId: customer.id as string, orderId: order.id as string, quote };
}

/**
 * Runs axe-core (WCAG 2.x A and AA rules) on the page as it is now and fails on any violation
 * of `serious` or `critical` impact, listing each rule with the elements it flagged. Minor and
 * moderate findings are left to review: they are often judgement calls.
 */
export async function expectNoSeriousA11yViolations(page: Page) {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help}\n  ${v.nodes.map((n) => n.target.join(' ')).join('\n  ')}`);
  expect(serious, serious.join('\n')).toEqual([]);
}
