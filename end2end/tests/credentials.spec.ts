import { expect, test } from '@playwright/test';

import { createStore, openStore, signIn, submitStoreSwitch, waitForHydration } from './support';

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
  await submitStoreSwitch(page);
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

test('merchant chooses the payment provider and checks the connection with the sandbox PSP', async ({ page }) => {
  await signIn(page);
  const name = `Provider ${Date.now()}`;
  await createStore(page, name);
  await openStore(page, name);
  await page.goto('/credentials');
  await waitForHydration(page);

  const panel = page.locator('#payment-provider');
  await expect(panel.getByTestId('current-provider')).toHaveText('Sandbox PSP');
  await expect(panel).toContainText("the server's default");

  // Stripe's own form, with Stripe's names for its fields; then Stripe may be chosen.
  const stripe = page.locator('#put-stripe-credentials');
  await stripe.getByLabel('Secret key (sk_test_…)').fill('sk_test_e2e_0123456789abcdefghij');
  await stripe.getByLabel('Webhook signing secret (whsec_…)').fill(WEBHOOK);
  await stripe.getByLabel('Connect account id (acct_…, optional)').fill('acct_1E2eConnected');
  await stripe.getByLabel('Multicapture (capture an authorization in several parts)').check();
  await stripe.getByRole('button', { name: 'Save Stripe credentials' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved stripe credentials' })).toBeVisible();
  const stored = page.locator('#credentials tr[data-provider="stripe"]');
  await expect(stored).toContainText('acct_1E2eConnected');
  await expect(stored).toContainText('multicapture: true');
  const html = await page.content();
  expect(html).not.toContain('sk_test_e2e_0123456789abcdefghij');

  const choose = page.locator('#choose-provider');
  await choose.getByLabel('Provider for new payments').selectOption('stripe');
  await choose.getByRole('button', { name: 'Use for new payments' }).click();
  await expect(page.getByTestId('provider-choice-result')).toContainText('now use Stripe');
  await expect(panel.getByTestId('current-provider')).toHaveText('Stripe');
  await expect(panel).toContainText('chosen by user:');

  // Whatever the browser sends, the server decides: its refusal shows beside the field.
  await choose.locator('select').evaluate((select: HTMLSelectElement) => {
    select.add(new Option('PayPal', 'paypal'));
    select.value = 'paypal';
  });
  await choose.getByRole('button', { name: 'Use for new payments' }).click();
  await expect(choose.getByTestId('error-provider')).toContainText('not a payment provider');
  await expect(panel.getByTestId('current-provider')).toHaveText('Stripe');

  await choose.getByLabel('Provider for new payments').selectOption('sandbox');
  await choose.getByRole('button', { name: 'Use for new payments' }).click();
  await expect(panel.getByTestId('current-provider')).toHaveText('Sandbox PSP');

  // The sandbox PSP this server mounts names the account of the store's generated key.
  const row = page.locator('#credentials tr[data-provider="sandbox"]');
  await row.getByRole('button', { name: 'Check connection' }).click();
  const result = row.getByTestId('connection-result');
  await expect(result).toContainText('Connected: acct_sbx_');
  await expect(result).toContainText('Sandbox PSP test account, US, USD, payments enabled');

  // A key the PSP does not know is the merchant's to fix, and says so.
  const form = page.locator('#put-credentials');
  await form.getByLabel('Provider').selectOption('sandbox');
  await form.getByLabel('API key / secret key').fill('not_a_psp_key_0123456789abcdef');
  await form.getByLabel('Webhook signing secret').fill(WEBHOOK);
  await form.getByRole('button', { name: 'Save credentials' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved sandbox credentials' })).toBeVisible();
  await expect(page.locator('#credentials')).toContainText('not_…cdef');
  await page.locator('#credentials tr[data-provider="sandbox"]').getByRole('button', { name: 'Check connection' }).click();
  await expect(page.locator('#credentials tr[data-provider="sandbox"]').getByTestId('connection-result'))
    .toContainText('the provider refused these credentials');
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
