import { expect, test, type APIRequestContext } from '@playwright/test';

import { call, createStore, openStore, signIn, waitForHydration } from './support';

/** A storefront's checkout through the API: an authorized payment of a new order. */
async function authorizedOrder(request: APIRequestContext, key: string) {
  await call(request, 'PUT', '/api/v1/admin/shipping/rates', key, {
    rates: [{ service: 'standard', country: 'US', max_weight_grams: 10000, amount: 500, currency: 'USD' }],
  });
  await call(request, 'PUT', '/api/v1/admin/tax/rates', key, {
    rules: [{ country: 'US', subdivision: 'CA', tax_code: '*', rate: '0.0825' }],
  });
  await call(request, 'PUT', '/api/v1/admin/tax/nexus', key, {
    nexus: [{ country: 'US', subdivision: 'CA', since: '2020-01-01' }],
  });
  const product = await call(request, 'POST', '/api/v1/admin/products', key, {
    sku: `LAMP-${Date.now()}`, name: 'Desk lamp', unit_amount: 4000, currency: 'USD', weight_grams: 900,
  });
  const customer = await call(request, 'POST', '/api/v1/admin/customers', key, { name: 'Ada' });
  const { token } = await call(request, 'POST', `/api/v1/admin/customers/${customer.id}/tokens`, key, {});
  const order = await call(request, 'POST', '/api/v1/me/orders', token, {
    items: [{ product_id: product.id, quantity: 1 }],
    shipping_address: { name: 'Ada', line1: '1 Main St', city: 'Town', subdivision: 'CA', postal_code: '90001', country: 'US' },
  });
  const quote = await call(request, 'POST', '/api/v1/me/checkout/quote', token, { order_id: order.id });
  // 40.00 + 3.30 tax + 5.00 shipping.
  expect(quote.totals.total).toBe(4830);
  const intent = await call(request, 'POST', `/api/v1/me/orders/${order.id}/payments/authorize`, token, {
    snapshot_id: quote.snapshot_id,
    payment_method: 'pm_card_visa',
  });
  expect(intent.status).toBe('authorized');
  return { orderId: order.id as string, intentId: intent.id as string };
}

test('a merchant captures part of a payment, refunds part, and sees the timeline', async ({ page, request }) => {
  await signIn(page);
  const name = `Payments ${Date.now()}`;
  const key = await createStore(page, name);
  expect(key).toMatch(/^sk_test_/);
  const { orderId, intentId } = await authorizedOrder(request, key);

  await openStore(page, name);

  // The ledger lists the payment; filters narrow it.
  await page.getByRole('link', { name: 'Payments', exact: true }).click();
  await waitForHydration(page);
  const row = page.locator(`#ledger tr[data-payment-id="${intentId}"]`);
  await expect(row).toContainText('authorized');
  await expect(row).toContainText('$48.30 USD');
  await page.locator('#ledger-filter').getByLabel('Status').selectOption('refunded');
  await page.locator('#ledger-filter').getByRole('button', { name: 'Filter' }).click();
  await expect(page.locator('#ledger-empty')).toBeVisible();
  await page.goto('/payments?status=authorized');
  await waitForHydration(page);
  await page.locator(`#ledger tr[data-payment-id="${intentId}"]`).getByRole('link', { name: 'Open order' }).click();
  await expect(page).toHaveURL(new RegExp(`/orders/${orderId}$`));
  await waitForHydration(page);

  const intent = page.locator(`section.intent[data-intent-id="${intentId}"]`);
  await expect(intent.getByTestId('intent-status')).toHaveText('authorized');

  // Capture 20.00 of 48.30, with confirmation.
  const capture = intent.locator('form[data-action="capture"]');
  // Amounts are typed in major units; what USD cannot represent is refused with the reason.
  await capture.getByLabel('Amount (USD)').fill('20.005');
  await capture.getByRole('button', { name: 'Capture' }).click();
  // Without the confirmation box ticked the browser refuses to submit.
  await expect(intent.getByTestId('captured')).toHaveText('$0.00 USD');
  await capture.getByLabel('Confirm').check();
  await capture.getByRole('button', { name: 'Capture' }).click();
  await expect(page.getByTestId('action-result')).toContainText('USD amounts have 2 decimal place(s)');
  await expect(intent.getByTestId('captured')).toHaveText('$0.00 USD');
  await capture.getByLabel('Amount (USD)').fill('20.00');
  await capture.getByRole('button', { name: 'Capture' }).click();
  await expect(page.getByTestId('action-result')).toHaveText('capture of $20.00 USD: done');
  await expect(intent.getByTestId('intent-status')).toHaveText('partially_captured');
  await expect(intent.getByTestId('captured')).toHaveText('$20.00 USD');

  // Refund 7.50 of it.
  const refund = intent.locator('form[data-action="refund"]');
  await refund.getByLabel('Amount (USD)').fill('7.50');
  await refund.getByLabel('Reason').fill('scratched base');
  await refund.getByLabel('Confirm').check();
  await refund.getByRole('button', { name: 'Refund' }).click();
  await expect(page.getByTestId('action-result')).toHaveText('refund of $7.50 USD: done');
  await expect(intent.getByTestId('intent-status')).toHaveText('partially_refunded');
  await expect(intent.getByTestId('refunded')).toHaveText('$7.50 USD');
  await expect(intent.locator('tr[data-operation="refund"][data-status="succeeded"]')).toContainText('scratched base');

  // The timeline tells the story, in order.
  const steps = page.locator('#timeline li');
  await expect(steps).toHaveCount(5);
  await expect(steps.nth(0)).toHaveAttribute('data-to', 'requires_authorization');
  await expect(steps.nth(1)).toHaveAttribute('data-to', 'authorized');
  await expect(steps.nth(2)).toHaveAttribute('data-to', 'paid');
  await expect(steps.nth(3)).toHaveAttribute('data-to', 'partially_captured');
  await expect(steps.nth(4)).toHaveAttribute('data-to', 'partially_refunded');
  await expect(steps.nth(4)).toContainText('refund of $7.50 USD succeeded');

  // The dashboard counts it.
  await page.getByRole('link', { name: 'Overview' }).click();
  await waitForHydration(page);
  await expect(page.getByTestId('captured-total')).toHaveText('$20.00 USD');
  await expect(page.getByTestId('refunded-total')).toHaveText('$7.50 USD');
  await expect(page.getByTestId('volume-chart').locator('rect.bar-captured')).toHaveCount(30);
});
