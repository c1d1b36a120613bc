import { expect, test } from '@playwright/test';
import * as fs from 'node:fs';

import { capturedOrder, createStore, openStore, signIn, waitForHydration } from './support';

test('a platform admin reconciles a store from the console and sees it in the platform report', async ({ page, request }) => {
  await signIn(page);
  const name = `Recon ${Date.now()}`;
  const key = await createStore(page, name);
  await openStore(page, name);
  await capturedOrder(request, key);

  await page.getByRole('link', { name: 'Reconciliation', exact: true }).click();
  await waitForHydration(page);
  const today = new Date().toISOString().slice(0, 10);
  const form = page.locator('#start-reconciliation');
  await form.getByLabel('From').fill(today);
  await form.getByLabel('To').fill(today);
  await form.getByRole('button', { name: 'Reconcile' }).click();
  await expect(page.getByTestId('reconciliation-result').last()).toContainText('queued');

  // The runner works it in the background: reload until it completed.
  const run = page.locator('#store-runs tbody tr').first();
  await expect(async () => {
    await page.reload();
    await waitForHydration(page);
    await expect(run).toHaveAttribute('data-status', 'completed', { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await expect(run.getByTestId('matched')).toHaveText('1');
  await expect(run.getByTestId('exceptions')).toHaveText('0');
  await expect(run.getByTestId('match-rate')).toHaveText('100.00 %');
  const runId = await run.getAttribute('data-run-id');

  // The platform report lists it with the store's name.
  const platformRow = page.locator(`#platform-runs tr[data-run-id="${runId}"]`);
  await expect(platformRow).toContainText(name);
  await expect(platformRow).toHaveAttribute('data-status', 'completed');

  // Its detail: nothing to look at, and the CSV has only its header.
  await run.getByRole('link').first().click();
  await waitForHydration(page);
  await expect(page.locator('#reconciliation-run')).toHaveAttribute('data-run-id', runId!);
  await expect(page.locator('#no-exceptions')).toBeVisible();
  const download = page.waitForEvent('download');
  await page.locator('#reconciliation-run').getByRole('link', { name: 'CSV' }).click();
  const text = fs.readFileSync((await (await download).path())!).toString('utf8');
  expect(text.split('\r\n')[0]).toBe('item_id,kind,order_id,payment_intent_id,provider,provider_payment_id,currency,difference,resolution,note,resolved_by,resolved_at,ours,theirs,shipment_id,subject');
});

test('a merchant sets the time of the store\'s daily reconciliation', async ({ page }) => {
  await signIn(page);
  const name = `Recon schedule ${Date.now()}`;
  await createStore(page, name);
  await openStore(page, name);
  await page.getByRole('link', { name: 'Reconciliation', exact: true }).click();
  await waitForHydration(page);
  const form = page.locator('#reconciliation-schedule');
  await expect(form.locator('input[name="daily_at"]')).toHaveValue('00:00');
  await form.locator('input[name="daily_at"]').fill('02:30');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('reconciliation-result').last()).toContainText('Daily reconciliation at 02:30 UTC.');
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('#reconciliation-schedule input[name="daily_at"]')).toHaveValue('02:30');
  await page.locator('#reconciliation-schedule input[name="enabled"]').uncheck();
  await page.locator('#reconciliation-schedule').getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('reconciliation-result').last()).toContainText('Daily reconciliation off.');
});
