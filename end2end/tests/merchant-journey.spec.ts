// Issue #21's definition of done, in one go: a store owner, in the console alone, creates a
// product, sets shipping and tax rates, sees a storefront's order arrive, captures and refunds it
// in major units, adds a staff member and exports the orders. The storefront's part (customer,
// order, checkout, authorization) goes through the REST API with the store's key, as a real
// storefront's server would. The platform admin only creates the store and its owner.
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';

import {
  ADMIN_EMAIL, ADMIN_PASSWORD, call, createStore, expectNoSeriousA11yViolations, openStore, signIn, waitForHydration,
} from './support';

const OWNER_PASSWORD = 'journey-owner-password';

/** Submits a console form and waits for its server function's answer. */
async function submit(page: Page, fn: string, click: () => Promise<void>) {
  const answered = page.waitForResponse((r) => r.url().includes(`/console/fn/${fn}`) && r.request().method() === 'POST');
  await click();
  expect((await answered).ok()).toBeTruthy();
}

test('an owner runs the store from the console: product, rates, order, capture, refund, staff, export', async ({ page, request }) => {
  test.setTimeout(120_000);
  await page.setViewportSize({ width: 1280, height: 900 });
  const suffix = randomUUID().slice(0, 8);
  const storeName = `Journey ${suffix}`;
  const ownerEmail = `owner-${suffix}@journey.test`;

  // The platform admin creates the store and its owner.
  await signIn(page);
  const key = await createStore(page, storeName);
  const store = await (await request.get('/api/v1/admin/store', { headers: { authorization: `Bearer ${key}` } })).json();
  const admin = await (await request.post('/api/v1/auth/token', { data: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD } })).json();
  await call(request, 'POST', `/api/v1/platform/stores/${store.id}/users`, admin.token, {
    email: ownerEmail, role: 'owner', password: OWNER_PASSWORD,
  });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByTestId('viewer-email')).toHaveCount(0);

  // The owner signs in; their only store opens.
  await page.goto('/sign-in');
  await waitForHydration(page);
  await page.getByLabel('Email').fill(ownerEmail);
  await page.getByLabel('Password').fill(OWNER_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('viewer-email')).toHaveText(ownerEmail);
  await openStore(page, storeName);

  // The bar stays on one line at 1280 px: the brand and the account controls share a row.
  const brand = await page.locator('.topbar .brand').boundingBox();
  const signOut = await page.getByRole('button', { name: 'Sign out' }).boundingBox();
  expect(Math.abs(brand!.y + brand!.height / 2 - (signOut!.y + signOut!.height / 2))).toBeLessThan(12);

  // 1. A product, priced in major units.
  await page.getByRole('link', { name: 'Catalogue' }).click();
  await waitForHydration(page);
  const create = page.locator('#create-product');
  await create.getByLabel('Name').fill('Desk lamp');
  await create.getByLabel('SKU').fill(`LAMP-${suffix}`);
  await create.getByLabel(/^Price/).fill('100.00');
  await create.getByLabel('Weight (g)').fill('900');
  await submit(page, 'create_product', () => create.getByRole('button', { name: 'Add product' }).click());
  await expect(page.getByTestId('create-result')).toContainText('Added Desk lamp');
  const productId = await page.locator(`#products tr[data-sku="LAMP-${suffix}"]`).getAttribute('data-product-id');
  expect(productId).toBeTruthy();

  // 2. Shipping and tax rates.
  await page.getByRole('link', { name: 'Settings' }).click();
  await waitForHydration(page);
  await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Shipping rates' }).click();
  await waitForHydration(page);
  const shipping = page.locator('#shipping-rates-form');
  await shipping.getByLabel('Row 1 service').fill('standard');
  await shipping.getByLabel('Row 1 country').fill('*');
  await shipping.getByLabel('Row 1 up to (g)').fill('5000');
  await shipping.getByLabel('Row 1 price').fill('10.00');
  await submit(page, 'save_shipping_rates', () => shipping.getByRole('button', { name: 'Save shipping rates' }).click());
  await expect(page.getByTestId('rates-result')).toHaveText('Saved 1 shipping rates for sandbox.');
  await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Tax rates' }).click();
  await waitForHydration(page);
  const tax = page.locator('#tax-rates-form');
  await tax.getByLabel('Row 1 country').fill('US');
  await tax.getByLabel('Row 1 subdivision').fill('CA');
  await tax.getByLabel('Row 1 tax code').fill('*');
  await tax.getByLabel('Row 1 rate (%)').fill('7.25');
  await submit(page, 'save_tax_rates', () => tax.getByRole('button', { name: 'Save tax rates' }).click());
  await expect(page.getByTestId('rates-result')).toHaveText('Saved 1 tax rates for sandbox.');

  // 3. The storefront: a customer orders the lamp and pays (authorizes) at checkout.
  const customer = await call(request, 'POST', '/api/v1/admin/customers', key, { name: 'Ada Lovelace', email: `ada-${suffix}@shop.test` });
  const { token } = await call(request, 'POST', `/api/v1/admin/customers/${customer.id}/tokens`, key, {});
  const order = await call(request, 'POST', '/api/v1/me/orders', token, {
    items: [{ product_id: productId, quantity: 1 }],
    shipping_address: { name: 'Ada Lovelace', line1: '1 Main St', city: 'Los Angeles', subdivision: 'CA', postal_code: '90012', country: 'US' },
  });
  const quote = await call(request, 'POST', '/api/v1/me/checkout/quote', token, { order_id: order.id });
  expect(quote.totals.shipping).toBe(1000); // the rate the owner just set
  const intent = await call(request, 'POST', `/api/v1/me/orders/${order.id}/payments/authorize`, token, {
    snapshot_id: quote.snapshot_id, payment_method: 'pm_card_visa',
  });

  // 4. The order arrives in the console's list; its page shows who, what, where and how much.
  await page.getByRole('link', { name: 'Orders', exact: true }).click();
  await waitForHydration(page);
  const row = page.locator(`#orders tr[data-order-id="${order.id}"]`);
  await expect(row).toContainText(`ada-${suffix}@shop.test`);
  await expect(row).toContainText('$100.00 USD');
  await row.getByRole('link', { name: order.id }).click();
  await expect(page).toHaveURL(new RegExp(`/orders/${order.id}$`));
  await waitForHydration(page);
  await expect(page.getByTestId('order-customer')).toContainText('Ada Lovelace');
  await expect(page.getByTestId('order-address')).toContainText('90012 Los Angeles CA');
  await expect(page.locator(`#order-lines tr[data-sku="LAMP-${suffix}"]`)).toContainText('Desk lamp');
  await expect(page.locator('#order-lines tr[data-total="shipping"]')).toContainText('$10.00 USD');
  const total = (quote.totals.total / 100).toFixed(2);
  await expect(page.locator('#order-lines tr[data-total="total"]')).toContainText(`$${total} USD`);
  await expectNoSeriousA11yViolations(page);

  // 5. Capture part in major units, then refund part of that.
  const payment = page.locator(`section.intent[data-intent-id="${intent.id}"]`);
  const capture = payment.locator('form[data-action="capture"]');
  await capture.getByLabel('Amount (USD)').fill('60.00');
  await capture.getByLabel('Confirm').check();
  await capture.getByRole('button', { name: 'Capture' }).click();
  await expect(page.getByTestId('action-result')).toHaveText('capture of $60.00 USD: done');
  await expect(payment.getByTestId('captured')).toHaveText('$60.00 USD');
  const refund = payment.locator('form[data-action="refund"]');
  await refund.getByLabel('Amount (USD)').fill('12.50');
  await refund.getByLabel('Reason').fill('arrived scratched');
  await refund.getByLabel('Confirm').check();
  await refund.getByRole('button', { name: 'Refund' }).click();
  await expect(page.getByTestId('action-result')).toHaveText('refund of $12.50 USD: done');
  await expect(payment.getByTestId('refunded')).toHaveText('$12.50 USD');

  // The overview's dashboard counts it, beside the (empty) period before.
  await page.getByRole('link', { name: 'Overview' }).click();
  await waitForHydration(page);
  await expect(page.getByTestId('metric-volume')).toHaveText('$60.00 USD');
  await expect(page.getByTestId('metric-volume-previous')).toContainText('$0.00 USD');
  await expect(page.getByTestId('metric-refund_rate')).toHaveText('20.8%');
  await expect(page.getByTestId('metric-authorization_rate')).toHaveText('100.0%');
  await expect(page.getByTestId('volume-chart').locator('text.tick').first()).toHaveText('$0.00 USD');
  await page.locator('#dashboard-period').getByLabel('Period').selectOption('7');
  await page.locator('#dashboard-period').getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(/days=7/);
  await expect(page.getByTestId('volume-chart').locator('rect.bar-captured')).toHaveCount(7);
  await expectNoSeriousA11yViolations(page);

  // 6. A staff member joins: their one-time password is shown once.
  await page.getByRole('link', { name: 'Settings' }).click();
  await waitForHydration(page);
  await page.locator('#settings-tabs').getByRole('link', { name: 'Team' }).click();
  await expect(page).toHaveURL(/\/settings\/team$/);
  await waitForHydration(page);
  const staffEmail = `staff-${suffix}@journey.test`;
  const addMember = page.locator('#add-member');
  await addMember.getByLabel('Email').fill(staffEmail);
  await addMember.getByLabel('Role').selectOption('staff');
  await submit(page, 'add_member', () => addMember.getByRole('button', { name: 'Add member' }).click());
  await expect(page.getByTestId('member-added')).toContainText(`Added ${staffEmail} as staff.`);
  expect((await page.getByTestId('one-time-password').textContent())!.trim().length).toBeGreaterThanOrEqual(12);
  await expect(page.locator(`#members tr[data-email="${staffEmail}"]`).getByLabel(`Role of ${staffEmail}`)).toHaveValue('staff');
  await expectNoSeriousA11yViolations(page);

  // 7. Export the orders as CSV.
  await page.getByRole('link', { name: 'Orders', exact: true }).click();
  await waitForHydration(page);
  const downloading = page.waitForEvent('download');
  await page.locator('#orders-export').click();
  const download = await downloading;
  const csv = fs.readFileSync((await download.path())!, 'utf8');
  const lines = csv.split('\r\n').filter((l) => l.length > 0);
  expect(lines).toHaveLength(2);
  expect(lines[1]).toMatch(new RegExp(`^${order.id},[0-9T:-]+Z,paid,ada-${suffix}@shop\\.test,USD,100\\.00,1$`));
});
