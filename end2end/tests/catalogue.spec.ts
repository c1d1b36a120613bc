// Catalogue: a store's products in the console, end to end — adding one with a price typed in
// major units, editing it, a price the currency cannot represent refused beside its field,
// archiving (confirmed) and the filter that shows archived products; axe-core on the way.
import { randomUUID } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';

import { createStore, expectNoSeriousA11yViolations, openStore, signIn, waitForHydration } from './support';

/** Submits a console form and waits for its server function's answer. */
async function submit(page: Page, fn: string, click: () => Promise<void>) {
  const answered = page.waitForResponse((r) => r.url().includes(`/console/fn/${fn}`) && r.request().method() === 'POST');
  await click();
  expect((await answered).ok()).toBeTruthy();
}

test('a store adds, edits, refuses an unrepresentable price, archives and finds a product', async ({ page }) => {
  const store = `Catalogue ${randomUUID().slice(0, 8)}`;
  await signIn(page);
  await createStore(page, store); // USD: two decimal places.
  await openStore(page, store);
  await page.getByRole('link', { name: 'Catalogue' }).click();
  await expect(page).toHaveURL(/\/catalogue$/);
  await waitForHydration(page);

  // Empty: says what to do next.
  await expect(page.locator('#no-products')).toContainText('No products yet: add the first one below');
  await expectNoSeriousA11yViolations(page);

  // Add one with a price typed in major units.
  const create = page.locator('#create-product');
  await expect(create.getByLabel('Currency')).toHaveValue('USD');
  await create.getByLabel('Name').fill('Travel mug');
  await create.getByLabel('SKU').fill('MUG-1');
  await create.getByLabel(/^Price/).fill('12.34');
  await create.getByLabel('Tax code').fill('general');
  await create.getByLabel('Weight (g)').fill('350');
  await create.getByLabel('Length').fill('120');
  await create.getByLabel('Width').fill('90');
  await create.getByLabel('Height').fill('90');
  await submit(page, 'create_product', () => create.getByRole('button', { name: 'Add product' }).click());
  await expect(page.getByTestId('create-result')).toHaveText('Added Travel mug (MUG-1).');
  await expect(create.getByLabel('Name')).toHaveValue(''); // ready for the next one

  const row = page.locator('#products tr[data-sku="MUG-1"]');
  await expect(row.getByTestId('product-name')).toHaveText('Travel mug');
  await expect(row.getByTestId('product-price')).toHaveText('$12.34 USD');
  await expect(row).toContainText('350 g');
  await expect(row).toContainText('120 × 90 × 90 mm');
  await expect(row.getByTestId('product-status')).toHaveText('active');
  await expect(page.locator('#no-products')).toHaveCount(0);

  // A second one, found by the search (name or SKU).
  await create.getByLabel('Name').fill('Tea towel');
  await create.getByLabel('SKU').fill('TOWEL-1');
  await create.getByLabel(/^Price/).fill('8');
  await submit(page, 'create_product', () => create.getByRole('button', { name: 'Add product' }).click());
  await expect(page.locator('#products tr[data-sku="TOWEL-1"]')).toBeVisible();
  const filter = page.locator('#catalogue-filter');
  await filter.getByLabel('Name or SKU').fill('mug');
  await filter.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/q=mug/);
  await expect(page.locator('#products tbody tr')).toHaveCount(1);
  await expect(row).toBeVisible();

  // Edit it.
  await row.getByRole('link', { name: 'Edit Travel mug' }).click();
  await expect(page).toHaveURL(/edit=/);
  const edit = page.locator('#edit-product');
  await expect(edit.getByLabel(/^Price/)).toHaveValue('12.34');
  await edit.getByLabel('Name').fill('Big travel mug');
  await edit.getByLabel(/^Price/).fill('15.5');
  await edit.getByLabel('the price includes tax').check();
  await submit(page, 'update_product', () => edit.getByRole('button', { name: 'Save changes' }).click());
  await expect(page.getByTestId('update-result')).toHaveText('Saved Big travel mug (MUG-1).');
  await expect(row.getByTestId('product-name')).toHaveText('Big travel mug');
  await expect(row.getByTestId('product-price')).toHaveText('$15.50 USD');
  await expect(row).toContainText('included');
  await expect(edit.getByLabel(/^Price/)).toHaveValue('15.50');

  // USD has two decimal places: 12.345 is refused beside the price, and what was typed stays.
  await edit.getByLabel(/^Price/).fill('12.345');
  await submit(page, 'update_product', () => edit.getByRole('button', { name: 'Save changes' }).click());
  await expect(page.getByTestId('edit-error-price')).toHaveText('USD amounts have 2 decimal place(s)');
  await expect(page.getByTestId('update-result')).toContainText('Not saved');
  await expect(edit.getByLabel(/^Price/)).toHaveValue('12.345');
  await expect(row.getByTestId('product-price')).toHaveText('$15.50 USD');
  await expectNoSeriousA11yViolations(page);

  // Archive: only once confirmed; then hidden from the list.
  const archive = page.locator('#archive-product');
  await archive.getByRole('button', { name: 'Archive product' }).click();
  await expect(page.locator('#product-detail')).toBeVisible(); // the box is required
  await archive.getByLabel(/archive it/).check();
  await submit(page, 'set_product_archived', () => archive.getByRole('button', { name: 'Archive product' }).click());
  await expect(page).toHaveURL(/\/catalogue$/);
  await expect(page.getByTestId('catalogue-result')).toContainText('Archived Big travel mug (MUG-1)');
  await expect(page.locator('#products tr[data-sku="MUG-1"]')).toHaveCount(0);
  await expect(page.locator('#products tr[data-sku="TOWEL-1"]')).toBeVisible();

  // Shown with the filter, marked archived; made active again from there.
  await filter.getByLabel('Show').selectOption('true');
  await filter.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/archived=true/);
  await expect(row.getByTestId('product-status')).toHaveText('archived');
  await expect(page.locator('#products tr[data-sku="TOWEL-1"]')).toHaveCount(0);
  await expectNoSeriousA11yViolations(page);
  await row.getByRole('link', { name: 'Edit Big travel mug' }).click();
  await expect(page.getByTestId('editing-status')).toContainText('archived');
  await submit(page, 'set_product_archived', () =>
    page.locator('#unarchive-product').getByRole('button', { name: 'Make active again' }).click(),
  );
  await expect(page.getByTestId('catalogue-result')).toContainText('active again');
  await expect(page.getByTestId('editing-status')).toContainText('active');
});

test('the catalogue reads without JavaScript', async ({ browser, page }) => {
  const store = `No-JS ${randomUUID().slice(0, 8)}`;
  await signIn(page);
  await createStore(page, store);
  await openStore(page, store);
  await page.goto('/catalogue');
  await waitForHydration(page);
  const create = page.locator('#create-product');
  await create.getByLabel('Name').fill('Poster & frame');
  await create.getByLabel('SKU').fill('POSTER-1');
  await create.getByLabel(/^Price/).fill('1,234.5');
  await submit(page, 'create_product', () => create.getByRole('button', { name: 'Add product' }).click());
  await expect(page.getByTestId('create-result')).toHaveText('Added Poster & frame (POSTER-1).');

  // The same session without JavaScript: the server's HTML has the list, the search and the form.
  const context = await browser.newContext({ javaScriptEnabled: false, storageState: await page.context().storageState() });
  const plain = await context.newPage();
  await plain.goto(`/catalogue?q=${encodeURIComponent('poster &')}&archived=all`);
  const row = plain.locator('#products tr[data-sku="POSTER-1"]');
  await expect(row.getByTestId('product-price')).toHaveText('$1,234.50 USD');
  await expect(plain.locator('#catalogue-filter').getByLabel('Name or SKU')).toHaveValue('poster &');
  await expect(plain.locator('#create-product')).toBeVisible();
  await context.close();
});
