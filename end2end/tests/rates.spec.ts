// Settings → Shipping rates and Settings → Tax rates: a merchant fills in the tables row by row
// (prices in major units, rates in percent), sees each refusal beside its input with what was
// typed kept, fixes it and saves; axe-core on both pages.
import { randomUUID } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';

import { createStore, expectNoSeriousA11yViolations, openStore, signIn, waitForHydration } from './support';

/** Submits a console form and waits for its server function's answer. */
async function submit(page: Page, fn: string, click: () => Promise<void>) {
  const answered = page.waitForResponse((r) => r.url().includes(`/console/fn/${fn}`) && r.request().method() === 'POST');
  await click();
  expect((await answered).ok()).toBeTruthy();
}

test('a merchant edits the shipping and tax rate tables with refusals beside the fields', async ({ page }) => {
  const store = `Rates ${randomUUID().slice(0, 8)}`;
  await signIn(page);
  await createStore(page, store);
  await openStore(page, store);

  await page.goto('/settings/shipping');
  await waitForHydration(page);
  await expect(page.getByTestId('rates-empty')).toContainText('No shipping rates yet');
  await expectNoSeriousA11yViolations(page);
  const shipping = page.locator('#shipping-rates-form');
  await shipping.getByLabel('Row 1 service').fill('standard');
  await shipping.getByLabel('Row 1 country').fill('*');
  await shipping.getByLabel('Row 1 up to (g)').fill('5000');
  await shipping.getByLabel('Row 1 price').fill('4.999');
  await submit(page, 'save_shipping_rates', () => shipping.getByRole('button', { name: 'Save shipping rates' }).click());
  await expect(page.getByTestId('rates-result')).toContainText('Not saved');
  await expect(page.getByTestId('error-0-price')).toHaveText('USD amounts have 2 decimal place(s)');
  await expect(shipping.getByLabel('Row 1 price')).toHaveValue('4.999');
  await expect(shipping.getByLabel('Row 1 price')).toHaveAttribute('aria-invalid', 'true');
  await expectNoSeriousA11yViolations(page);

  await shipping.getByLabel('Row 1 price').fill('4.90');
  await submit(page, 'save_shipping_rates', () => shipping.getByRole('button', { name: 'Save shipping rates' }).click());
  await expect(page.getByTestId('rates-result')).toHaveText('Saved 1 shipping rates for sandbox.');
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('#shipping-rates-form').getByLabel('Row 1 price')).toHaveValue('4.90');
  await expect(page.locator('#shipping-rates-form').getByLabel('Row 1 currency')).toHaveValue('USD');

  // The settings pages link to each other.
  await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Tax rates' }).click();
  await expect(page).toHaveURL(/\/settings\/tax-rates$/);
  await waitForHydration(page);
  await expect(page.getByTestId('rates-empty')).toContainText('No tax rates yet');
  const tax = page.locator('#tax-rates-form');
  await tax.getByLabel('Row 1 country').fill('US');
  await tax.getByLabel('Row 1 subdivision').fill('CA');
  await tax.getByLabel('Row 1 tax code').fill('*');
  await tax.getByLabel('Row 1 rate (%)').fill('7.25');
  await tax.getByLabel('Row 2 country').fill('US');
  await tax.getByLabel('Row 2 subdivision').fill('CA');
  await tax.getByLabel('Row 2 county').fill('Los Angeles');
  await tax.getByLabel('Row 2 tax code').fill('*');
  await tax.getByLabel('Row 2 rate (%)').fill('2.25');
  // A county names its postal codes: the service's rule, shown beside the field.
  await submit(page, 'save_tax_rates', () => tax.getByRole('button', { name: 'Save tax rates' }).click());
  await expect(page.getByTestId('error-1-postal_codes')).toContainText('lists the postal codes');
  await expect(tax.getByLabel('Row 2 county')).toHaveValue('Los Angeles');
  await expectNoSeriousA11yViolations(page);
  await tax.getByLabel('Row 2 postal codes').fill('900* 91001');
  await submit(page, 'save_tax_rates', () => tax.getByRole('button', { name: 'Save tax rates' }).click());
  await expect(page.getByTestId('rates-result')).toHaveText('Saved 2 tax rates for sandbox.');
  await expect(tax.getByLabel('Row 1 rate (%)')).not.toHaveValue('');

  // Removing a row (the table comes back in the store's order: find the county's).
  const laRow = (await tax.getByLabel('Row 1 county').inputValue()) === 'LOS ANGELES' ? 1 : 2;
  await tax.getByLabel(`Remove row ${laRow}`).check();
  await submit(page, 'save_tax_rates', () => tax.getByRole('button', { name: 'Save tax rates' }).click());
  await expect(page.getByTestId('rates-result')).toHaveText('Saved 1 tax rates for sandbox.');
  await expect(tax.getByLabel('Row 1 rate (%)')).toHaveValue('7.25');
});
