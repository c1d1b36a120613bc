// Settings → Team: an owner adds people (someone new gets a one-time password, shown once with a
// copy button, which they must change at first sign-in), a field the server refuses is marked
// beside it, the last owner stays (said in words), a role changes, and a member is removed
// after a confirmation step; axe-core on the way.
import { randomUUID } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';

import { createStore, expectNoSeriousA11yViolations, openStore, signIn, waitForHydration } from './support';

/** Acts and waits for the server function `fn` to answer (a refusal too); the answer's status. */
async function answered(page: Page, fn: string, act: () => Promise<void>) {
  const response = page.waitForResponse((r) => r.url().includes(`/console/fn/${fn}`) && r.request().method() === 'POST');
  await act();
  return (await response).status();
}

async function openTeam(page: Page) {
  await page.goto('/settings/team');
  await waitForHydration(page);
}

/** Adds `email` as `role` from the add form; the one-time password shown. */
async function addMember(page: Page, email: string, role: 'owner' | 'staff') {
  const form = page.locator('#add-member');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Role').selectOption(role);
  expect(await answered(page, 'add_member', () => form.getByRole('button', { name: 'Add member' }).click())).toBe(200);
  await expect(page.getByTestId('member-added')).toContainText(`Added ${email} as ${role}.`);
  return (await page.getByTestId('one-time-password').textContent())!.trim();
}

test('an owner adds a staff member, changes their role and removes them', async ({ page, browser }) => {
  const tag = randomUUID().slice(0, 8);
  const store = `Team ${tag}`;
  const ownerEmail = `owner-${tag}@e2e.test`;
  const staffEmail = `staff-${tag}@e2e.test`;

  // The platform admin opens a new store, which has no members yet, and adds its owner.
  await signIn(page);
  await createStore(page, store);
  await openStore(page, store);
  await page.goto('/settings');
  await waitForHydration(page);
  await page.locator('#settings-tabs').getByRole('link', { name: 'Team' }).click();
  await expect(page).toHaveURL(/\/settings\/team$/);
  await waitForHydration(page);
  await expect(page.locator('#no-members')).toContainText('add the store\'s first owner below');
  const ownerPassword = await addMember(page, ownerEmail, 'owner');

  // The owner signs in with the one-time password and must choose their own first.
  const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  const owner = await context.newPage();
  await owner.goto('/sign-in');
  await waitForHydration(owner);
  await owner.getByLabel('Email').fill(ownerEmail);
  await owner.getByLabel('Password').fill(ownerPassword);
  await owner.getByRole('button', { name: 'Sign in' }).click();
  await expect(owner).toHaveURL(/\/password$/);
  await waitForHydration(owner);
  await owner.getByLabel('Current password').fill(ownerPassword);
  await owner.getByLabel('New password').fill('owner-chose-this-1');
  await owner.getByRole('button', { name: 'Change password' }).click();
  await expect(owner).toHaveURL(/\/sign-in$/);
  await waitForHydration(owner);
  await owner.getByLabel('Email').fill(ownerEmail);
  await owner.getByLabel('Password').fill('owner-chose-this-1');
  await owner.getByRole('button', { name: 'Sign in' }).click();
  await expect(owner.getByTestId('viewer-email')).toHaveText(ownerEmail);

  await openTeam(owner);
  const members = owner.locator('#members');
  const ownerRow = members.locator(`tr[data-email="${ownerEmail}"]`);
  await expect(ownerRow.getByTestId('you')).toHaveText('you');
  await expect(ownerRow.locator('time')).toContainText(/just now|\d+ min ago/);
  await expectNoSeriousA11yViolations(owner);

  // The only owner cannot make themselves staff: the page says what to do instead.
  await ownerRow.getByLabel(`Role of ${ownerEmail}`).selectOption('staff');
  await ownerRow.getByLabel('I will no longer manage the team').check();
  await answered(owner, 'change_member_role', () => ownerRow.getByRole('button', { name: 'Change role' }).click());
  await expect(owner.getByTestId('team-result')).toContainText(`${ownerEmail} is the store's only owner`);
  await expect(owner.getByTestId('team-result')).toContainText('make another member an owner first');

  // A field the server refuses is marked beside it (the browser lets `x@example` through).
  const form = owner.locator('#add-member');
  await form.getByLabel('Email').fill(`${staffEmail.split('@')[0]}@example`);
  await answered(owner, 'add_member', () => form.getByRole('button', { name: 'Add member' }).click());
  await expect(owner.getByTestId('add-error-email')).toContainText('enter an email address');
  await expect(form.getByLabel('Email')).toHaveValue(`${staffEmail.split('@')[0]}@example`);

  // A staff member: their one-time password is shown once, with a copy button.
  const staffPassword = await addMember(owner, staffEmail, 'staff');
  expect(staffPassword.length).toBeGreaterThanOrEqual(12);
  await expect(form.getByLabel('Email')).toHaveValue('');
  await owner.getByRole('button', { name: 'Copy password' }).click();
  await expect(owner.getByTestId('copy-status')).toHaveText('Copied.');
  expect(await owner.evaluate(() => navigator.clipboard.readText())).toBe(staffPassword);
  const staffRow = members.locator(`tr[data-email="${staffEmail}"]`);
  await expect(staffRow.getByLabel(`Role of ${staffEmail}`)).toHaveValue('staff');
  await expectNoSeriousA11yViolations(owner);
  // Gone once the page is loaded again: it is never shown twice.
  await openTeam(owner);
  await expect(owner.getByTestId('one-time-password')).toHaveCount(0);

  // Their role changes.
  await staffRow.getByLabel(`Role of ${staffEmail}`).selectOption('owner');
  expect(
    await answered(owner, 'change_member_role', () => staffRow.getByRole('button', { name: 'Change role' }).click()),
  ).toBe(200);
  await expect(owner.getByTestId('team-result')).toHaveText(`${staffEmail} is owner now.`);
  await expect(staffRow.getByLabel(`Role of ${staffEmail}`)).toHaveValue('owner');

  // Removal asks first: Cancel keeps them, Remove member removes them.
  await staffRow.getByRole('link', { name: `Remove ${staffEmail}` }).click();
  const confirm = owner.locator('#remove-member');
  await expect(confirm).toContainText(`Remove ${staffEmail}?`);
  await expect(confirm).toContainText('keeps their Cassa account');
  await expect(confirm.getByRole('button', { name: 'Remove member' })).toBeFocused();
  await expectNoSeriousA11yViolations(owner);
  await confirm.getByRole('link', { name: 'Cancel' }).click();
  await expect(confirm).toHaveCount(0);
  await expect(staffRow).toHaveCount(1);
  await staffRow.getByRole('link', { name: `Remove ${staffEmail}` }).click();
  expect(
    await answered(owner, 'remove_member', () => confirm.getByRole('button', { name: 'Remove member' }).click()),
  ).toBeLessThan(400);
  await expect(owner.getByTestId('team-result')).toContainText(`Removed ${staffEmail}`);
  await expect(staffRow).toHaveCount(0);
  await expect(owner).toHaveURL(/\/settings\/team$/);

  // The list reads without JavaScript (server-rendered).
  const plain = await browser.newContext({ javaScriptEnabled: false, storageState: await context.storageState() });
  const plainPage = await plain.newPage();
  await plainPage.goto('/settings/team');
  await expect(plainPage.locator('#members')).toContainText(ownerEmail);
  await expect(plainPage.locator('#members')).not.toContainText(staffEmail);
  await plain.close();
  await context.close();
});
