import { createHmac } from 'node:crypto';
import { expect, test } from '@playwright/test';

import { signIn, submitStoreSwitch, waitForHydration } from './support';

const WEBHOOK_SECRET = 'whsec_' + Buffer.from('e2e webhook signing secret 32 b!').toString('base64');

/** Standard Webhooks: base64 HMAC-SHA256 of `id.timestamp.body` keyed with the decoded secret. */
function sign(secret: string, id: string, ts: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return 'v1,' + createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
}

test('a merchant sees received webhooks, rejected forgeries and replays an event', async ({ page, request }) => {
  await signIn(page);

  await page.goto('/platform/stores');
  await waitForHydration(page);
  const name = `Hooks ${Date.now()}`;
  await page.locator('#create-store').getByLabel('Name').fill(name);
  await page.locator('#create-store').getByRole('button', { name: 'Create store' }).click();
  await expect(page.locator('#stores')).toContainText(name);
  const storeId = await page.locator('#stores tr', { hasText: name }).getAttribute('data-store-id');
  expect(storeId).toBeTruthy();
  await page.reload();
  await waitForHydration(page);
  const switcher = page.locator('#store-switcher');
  await switcher.getByLabel('Store').selectOption({ label: name });
  await submitStoreSwitch(page);
  await expect(switcher.locator('option:checked')).toHaveText(name);

  // A webhook signing secret the test knows.
  await page.goto('/credentials');
  await waitForHydration(page);
  const form = page.locator('#put-credentials');
  await form.getByLabel('Provider').selectOption('sandbox');
  await form.getByLabel('API key / secret key').fill(`sbx_e2e_hooks_${Date.now()}_0123456789`);
  await form.getByLabel('Webhook signing secret').fill(WEBHOOK_SECRET);
  await form.getByRole('button', { name: 'Save credentials' }).click();
  await expect(page.getByRole('status')).toContainText('Saved sandbox credentials');

  const url = `/api/v1/webhooks/sandbox/${storeId}`;
  const body = JSON.stringify({ id: 'evt_e2e', type: 'payment.updated', data: { note: 'hello from the PSP' } });
  const ts = Math.floor(Date.now() / 1000);
  const good = await request.post(url, {
    headers: { 'content-type': 'application/json', 'webhook-id': 'msg_e2e_1', 'webhook-timestamp': String(ts), 'webhook-signature': sign(WEBHOOK_SECRET, 'msg_e2e_1', ts, body) },
    data: body,
  });
  expect(good.status()).toBe(200);
  const forged = await request.post(url, {
    headers: { 'content-type': 'application/json', 'webhook-id': 'msg_e2e_2', 'webhook-timestamp': String(ts), 'webhook-signature': sign('whsec_' + Buffer.from('not the secret').toString('base64'), 'msg_e2e_2', ts, body) },
    data: body,
  });
  expect(forged.status()).toBe(401);

  await page.getByRole('link', { name: 'Webhooks' }).click();
  await waitForHydration(page);
  const events = page.locator('#webhook-events tbody tr');
  await expect(events).toHaveCount(2);
  const rejected = page.locator('#webhook-events tr[data-status="rejected"]');
  await expect(rejected).toContainText('invalid');
  // The genuine one is processed by the worker.
  await expect(async () => {
    await page.reload();
    await expect(page.locator('#webhook-events tr[data-status="processed"]')).toHaveCount(1, { timeout: 500 });
  }).toPass({ timeout: 10_000 });
  await waitForHydration(page);
  const processed = page.locator('#webhook-events tr[data-status="processed"]');
  await expect(processed).toContainText('valid');
  await processed.getByText('Payload').click();
  await expect(processed.locator('pre.payload')).toContainText('hello from the PSP');

  // The dead-letter view is empty; the processed event can be replayed.
  await page.locator('#event-filters').getByRole('link', { name: 'Dead letter' }).click();
  await expect(page.locator('#no-events')).toBeVisible();
  await page.locator('#event-filters').getByRole('link', { name: 'Processed' }).click();
  await waitForHydration(page);
  await page.locator('#webhook-events tr[data-status="processed"]').getByRole('button', { name: 'Replay' }).click();
  await expect(page.getByRole('status')).toContainText('msg_e2e_1 queued again');
});
