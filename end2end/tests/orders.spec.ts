import * as fs from 'node:fs';

import { expect, test, type APIRequestContext } from '@playwright/test';

import { call, createStore, openStore, signIn, waitForHydration } from './support';

/** A storefront's orders through the API: a customer with `email` orders `quantity` lamps. */
async function placeOrder(request: APIRequestContext, key: string, productId: string, email: string, quantity: number) {
  const customer = await call(request, 'POST', '/api/v1/admin/customers', key, { name: 'Customer', email });
  const { token } = await call(request, 'POST', `/api/v1/admin/customers/${customer.id}/tokens`, key, {});
  const order = await call(request, 'POST', '/api/v1/me/orders', token, {
    items: [{ product_id: productId, quantity }],
    shipping_address: { name: 'Ada', line1: '1 Main St', city: 'Town', subdivision: 'CA', postal_code: '90001', country: 'US' },
  });
  return order.id as string;
}

test('a merchant filters the orders, opens one and downloads the filtered list as CSV', async ({ page, request }) => {
  await signIn(page);
  const name = `Orders ${Date.now()}`;
  const key = await createStore(page, name);
  await openStore(page, name);

  // Before any order: the page says how orders are made.
  await page.getByRole('link', { name: 'Orders', exact: true }).click();
  await waitForHydration(page);
  await expect(page.locator('#orders-empty')).toContainText('POST /api/v1/me/orders');

  const product = await call(request, 'POST', '/api/v1/admin/products', key, {
    sku: `LAMP-${Date.now()}`, name: 'Desk lamp', unit_amount: 1250, currency: 'USD', weight_grams: 900,
  });
  const small = await placeOrder(request, key, product.id, 'ada@shop.example', 1); // 12.50
  const large = await placeOrder(request, key, product.id, 'bob@shop.example', 4); // 50.00
  const formula = await placeOrder(request, key, product.id, '=cmd|1@evil.example', 2); // 25.00

  await page.reload();
  await waitForHydration(page);
  const rows = page.locator('#orders tbody tr');
  await expect(rows).toHaveCount(3);
  // Newest first, with the customer's email and the amount in major units.
  await expect(rows.nth(0)).toHaveAttribute('data-order-id', formula);
  const largeRow = page.locator(`#orders tr[data-order-id="${large}"]`);
  await expect(largeRow).toContainText('bob@shop.example');
  await expect(largeRow).toContainText('$50.00 USD');

  // An amount the currency cannot hold is refused beside its field.
  const filters = page.locator('#orders-filter');
  await filters.getByLabel('Min amount (USD)').fill('12.345');
  await filters.getByRole('button', { name: 'Filter' }).click();
  await expect(page.getByTestId('error-min_amount')).toContainText('2 decimal place');

  // Amount range in major units: the two orders of 20.00 and more.
  await filters.getByLabel('Min amount (USD)').fill('20');
  await filters.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/min_amount=20/);
  await expect(rows).toHaveCount(2);
  await expect(page.locator(`#orders tr[data-order-id="${small}"]`)).toHaveCount(0);

  // The export link carries the filters; the file has the same rows, plain amounts, no formulas.
  const downloading = page.waitForEvent('download');
  await page.locator('#orders-export').click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/^orders-sandbox-.*\.csv$/);
  const text = fs.readFileSync((await download.path())!, 'utf8');
  const lines = text.split('\r\n').filter((l) => l.length > 0);
  expect(lines[0]).toBe('order_id,created_at,status,customer_email,currency,items_amount,item_count');
  expect(lines).toHaveLength(3);
  expect(lines[1]).toMatch(new RegExp(`^${formula},[0-9T:-]+Z,open,'=cmd\\|1@evil\\.example,USD,25\\.00,2$`));
  expect(lines[2]).toMatch(new RegExp(`^${large},[0-9T:-]+Z,open,bob@shop\\.example,USD,50\\.00,4$`));

  // Search by email, then follow the row to the order page.
  await page.goto('/orders');
  await waitForHydration(page);
  await filters.getByLabel('Order id or customer email').fill('ADA@shop.example');
  await filters.getByRole('button', { name: 'Filter' }).click();
  await expect(rows).toHaveCount(1);
  await page.locator(`#orders tr[data-order-id="${small}"]`).getByRole('link', { name: small }).click();
  await expect(page).toHaveURL(new RegExp(`/orders/${small}$`));
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: /Order/ })).toContainText(small);
});
