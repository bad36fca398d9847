// The 低保 one-stop as the village clerk fills it: one form (applicant, household, one set of
// materials) → the bundle page lists every linked benefit, the eligible ones waiting for the allowance's
// approval and the others marked with the rule they miss. axe on both pages.

import { withBrowser, check, expectText, expectVisible, axe } from './lib.mjs';

await withBrowser(async ({ page, go }) => {
  await go('/login');
  await page.getByLabel('用户名').fill('clerk');
  await page.getByLabel('密码').fill('changshan2018');
  await Promise.all([page.waitForURL('**/admin'), page.getByRole('button', { name: '登录' }).click()]);
  await expectVisible(page.locator('#workbench-links').getByRole('link', { name: '一件事申请' }), 'the clerk\'s workbench links the one-stop form');

  await go('/bundles/new');
  await expectText(page.getByRole('heading', { level: 1 }), '低保一件事', 'the form is the 低保 one-stop');
  await axe(page, { label: 'bundle form' });
  await page.getByLabel('姓名').fill('徐老汉');
  await page.getByLabel('身份证号').fill('11010519491231002X');
  await page.getByLabel('手机号码').fill('13800138000');
  await page.getByLabel('劳动年龄家庭成员人数').fill('1');
  await page.getByLabel('家庭人口数').fill('3');
  await page.getByLabel('用电户号').fill('3301-0088');
  await page.getByLabel('用水户号').fill('W-5521');
  await page.getByLabel('在读学生人数').fill('0');
  await Promise.all([page.waitForURL(/\/bundles\/\d+$/), page.getByRole('button', { name: '提交一件事申请' }).click()]);

  await expectText(page.locator('#bundle-status'), '办理中', 'the bundle is open');
  const rows = page.locator('#bundle-children tbody tr');
  check((await rows.count()) === 7, `seven linked benefits listed (got ${await rows.count()})`);
  for (const key of ['pension', 'medical', 'electricity', 'water']) {
    await expectText(page.locator(`#bundle-children tr[data-key="${key}"]`), '待触发', `${key} waits for the allowance's approval`);
  }
  for (const key of ['cable_tv', 'education', 'disability']) {
    await expectText(page.locator(`#bundle-children tr[data-key="${key}"]`), '不符合条件', `${key} is not for this household`);
  }
  await expectText(page.locator('#bundle-children tr[data-key="education"]'), 'school_age_children', 'the missing condition is named');
  await axe(page, { label: 'bundle page' });
});
