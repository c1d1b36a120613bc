import { expect, test, type APIRequestContext } from '@playwright/test';

import { call, createStore, openStore, signIn, waitForHydration } from './support';

/** A storefront's checkout with a sandbox carrier rate frozen into the quote, authorized. */
async function paidOrderWithCarrierRate(request: APIRequestContext, key: string) {
  await call(request, 'PUT', '/api/v1/admin/credentials/sandbox_carrier/sandbox', key, {
    api_key: `scr_e2e${Date.now()}`,
    webhook_secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
  });
  await call(request, 'PUT', '/api/v1/admin/shipping/settings', key, {
    ship_from: { name: 'Parcels', line1: '500 Congress Ave', city: 'Austin', subdivision: 'TX', postal_code: '78701', country: 'US' },
  });
  const product = await call(request, 'POST', '/api/v1/admin/products', key, {
    sku: `KETTLE-${Date.now()}`, name: 'Kettle', unit_amount: 3500, currency: 'USD', weight_grams: 1200,
  });
  const customer = await call(request, 'POST', '/api/v1/admin/customers', key, { name: 'Ada' });
  const { token } = await call(request, 'POST', `/api/v1/admin/customers/${customer.id}/tokens`, key, {});
  const order = await call(request, 'POST', '/api/v1/me/orders', token, {
    items: [{ product_id: product.id, quantity: 1 }],
    shipping_address: { name: 'Ada', line1: '1 Main St', city: 'Town', subdivision: 'CA', postal_code: '90001', country: 'US' },
  });
  const rates = await call(request, 'POST', `/api/v1/me/orders/${order.id}/shipping/rates`, token, {});
  const ground = rates.rates.find((r: { provider: string; service: string }) => r.provider === 'sandbox_carrier' && r.service === 'ground');
  expect(ground, JSON.stringify(rates)).toBeTruthy();
  const quote = await call(request, 'POST', '/api/v1/me/checkout/quote', token, { order_id: order.id, shipping_rate_id: ground.id });
  const intent = await call(request, 'POST', `/api/v1/me/orders/${order.id}/payments/authorize`, token, {
    snapshot_id: quote.snapshot_id,
    payment_method: 'pm_card_visa',
  });
  expect(intent.status).toBe('authorized');
  return order.id as string;
}

test('a merchant buys a label from the order page, prints it, and voids it from the shipments page', async ({ page, request }) => {
  await signIn(page);
  const name = `Shipping ${Date.now()}`;
  const key = await createStore(page, name);
  const orderId = await paidOrderWithCarrierRate(request, key);

  await openStore(page, name);

  // The order page's shipping panel buys the label the payment froze.
  await page.goto(`/orders/${orderId}`);
  await waitForHydration(page);
  const shipping = page.locator('#shipping');
  await shipping.getByRole('button', { name: 'Buy label' }).click();
  await expect(shipping.getByTestId('shipping-result')).toContainText('Label bought');
  const card = shipping.locator('article.shipment');
  await expect(card).toHaveCount(1);
  await expect(card.getByTestId('shipment-status')).toHaveText('pre_transit');
  const tracking = (await card.getByTestId('tracking-number').textContent())!.trim();
  expect(tracking).not.toBe('—');
  // One label per order: the purchase form is gone.
  await expect(shipping.getByRole('button', { name: 'Buy label' })).toHaveCount(0);

  // The label prints from the console's session.
  const href = await card.getByTestId('label-pdf').getAttribute('href');
  const label = await page.request.get(href!);
  expect(label.status()).toBe(200);
  expect(label.headers()['content-type']).toContain('application/pdf');
  expect((await label.body()).subarray(0, 5).toString()).toBe('%PDF-');

  // The shipments page lists it under its status, and voids it with a confirmation.
  await page.getByRole('link', { name: 'Shipments', exact: true }).click();
  await waitForHydration(page);
  const row = page.locator(`#shipments tr[data-status]`).filter({ hasText: tracking });
  await expect(row.getByTestId('shipment-status')).toHaveText('pre_transit');
  await expect(page.locator('#shipment-filters a[data-status="pre_transit"] .count')).toHaveText('1');
  await row.getByRole('button', { name: 'Void label' }).click();
  // The confirmation box is required: nothing happened yet.
  await expect(row.getByTestId('shipment-status')).toHaveText('pre_transit');
  await row.getByLabel('confirm').check();
  await row.getByRole('button', { name: 'Void label' }).click();
  await expect(page.getByTestId('shipping-result')).toContainText('voided');
  await expect(page.locator(`#shipments tr[data-status]`).filter({ hasText: tracking }).getByTestId('shipment-status')).toHaveText('cancelled');
  await expect(page.locator('#shipment-filters a[data-status="cancelled"] .count')).toHaveText('1');

  // A voided label is not printed again.
  expect((await page.request.get(href!)).status()).toBe(404);
});
