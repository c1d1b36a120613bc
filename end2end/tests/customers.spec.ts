// Customers: a store's customers in the console, end to end — the empty state, a refused email
// shown beside its field, adding one, finding it by the search, its page (facts, no orders, no
// lifetime value yet) and a storefront token shown once; axe-core on the list and the page.
import { randomUUID } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';

import { capturedOrder, createStore, expectNoSeriousA11yViolations, openStore, signIn, waitForHydration } from './support';

/** Submits a console form and waits for its server function's answer. */
async function submit(page: Page, fn: string, click: () => Promise<void>) {
  const answered = page.waitForResponse((r) => r.url().includes(`/console/fn/${fn}`) && r.request().method() === 'POST');
  await click();
  expect((await answered).ok()).toBeTruthy();
}

test('a store adds a customer, finds it, opens its page and issues a token shown once', async ({ page, request }) => {
  const store = `Customers ${randomUUID().slice(0, 8)}`;
  await signIn(page);
  const key = await createStore(page, store);
  await openStore(page, store);
  await page.getByRole('link', { name: 'Customers', exact: true }).click();
  await expect(page).toHaveURL(/\/customers$/);
  await waitForHydration(page);

  // Empty: says how customers are added.
  await expect(page.locator('#customers-empty')).toContainText('No customers yet');
  await expectNoSeriousA11yViolations(page);

  // A malformed email is refused beside the field, and what was typed stays.
  const create = page.locator('#create-customer');
  await create.getByLabel('Email').fill('ada@');
  await create.getByLabel('Name').fill('Ada Lovelace');
  await create.getByLabel('Email').evaluate((input: HTMLInputElement) => (input.type = 'text')); // past the browser's own check
  await submit(page, 'create_customer', () => create.getByRole('button', { name: 'Add customer' }).click());
  await expect(page.getByTestId('error-email')).toHaveText('must be an email address');
  await expect(create.getByLabel('Email')).toHaveValue('ada@');

  // Added: listed, and the form is ready for the next one.
  await create.getByLabel('Email').fill('ada@example.com');
  await submit(page, 'create_customer', () => create.getByRole('button', { name: 'Add customer' }).click());
  await expect(page.getByTestId('create-result')).toContainText('Added ada@example.com.');
  await expect(create.getByLabel('Email')).toHaveValue('');
  await expect(page.getByTestId('error-email')).toHaveCount(0);
  const row = page.locator('#customers tbody tr').filter({ hasText: 'ada@example.com' });
  await expect(row.getByTestId('customer-name')).toHaveText('Ada Lovelace');

  // Another one through the API; the search finds each by part of its email.
  await request.fetch('/api/v1/admin/customers', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'idempotency-key': randomUUID() },
    data: { email: 'grace@example.com', name: 'Grace Hopper' },
  });
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('#customers tbody tr')).toHaveCount(2);
  const search = page.locator('#customers-search');
  await search.getByLabel('Email or customer id').fill('ADA@');
  await search.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/q=ADA%40/);
  await expect(page.locator('#customers tbody tr')).toHaveCount(1);
  await expectNoSeriousA11yViolations(page);

  // Its page: the facts, no orders and nothing paid yet.
  await row.getByTestId('customer-link').click();
  await expect(page).toHaveURL(/\/customers\/[0-9a-f-]{36}$/);
  await waitForHydration(page);
  const detail = page.locator('#customer-detail');
  await expect(detail.getByTestId('customer-email')).toHaveText('ada@example.com');
  await expect(detail.getByTestId('customer-name')).toHaveText('Ada Lovelace');
  await expect(detail.getByTestId('lifetime-value')).toHaveText('Nothing paid yet.');
  await expect(page.locator('#customer-no-orders')).toBeVisible();
  await expectNoSeriousA11yViolations(page);

  // A storefront token: shown once, with a copy button, and it works on /api/v1/me.
  await submit(page, 'issue_customer_token', () =>
    page.getByRole('button', { name: 'Issue storefront token' }).click(),
  );
  const revealed = page.getByTestId('revealed-token');
  await expect(revealed).toContainText('shown this once');
  const token = await revealed.getByTestId('token').inputValue();
  expect(token.length).toBeGreaterThan(20);
  await revealed.getByRole('button', { name: 'Copy' }).click();
  await expect(revealed.getByRole('status')).not.toBeEmpty();
  await expectNoSeriousA11yViolations(page);
  const me = await request.get('/api/v1/me', { headers: { authorization: `Bearer ${token}` } });
  expect(me.ok()).toBeTruthy();
  expect((await me.json()).email).toBe('ada@example.com');

  // Never shown again.
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('#customer-detail')).toBeVisible();
  await expect(page.getByTestId('revealed-token')).toHaveCount(0);
  expect(await page.content()).not.toContain(token);

  // A customer who paid: their order, linked, and the captured amount as their lifetime value.
  const { customerId, orderId, quote } = await capturedOrder(request, key);
  await page.goto(`/customers/${customerId}`);
  await waitForHydration(page);
  await expect(page.getByTestId('lifetime-value')).toHaveText(`$${(quote.totals.total / 100).toFixed(2)} USD`);
  const order = page.locator(`#customer-orders tr[data-order-id="${orderId}"]`);
  await expect(order).toContainText('paid');
  await order.getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`/orders/${orderId}$`));
});
