// A hotline work order end to end in the browser (issue 7, 一条热线全整合): the operator (consultant)
// records a complaint → dispatches it to 民政局 → the department's approver replies → the operator
// calls the caller back with the satisfaction → closes; the order page shows 已办结 and the timeline.
// axe on /hotline and /hotline/{id}.

import { withBrowser, check, expectText, expectVisible, axe, pathOf } from './lib.mjs';

const PASSWORD = 'changshan2018';

await withBrowser(async ({ page, context, go }) => {
  const login = async (user, next) => {
    await context.clearCookies();
    await go(`/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel('用户名').fill(user);
    await page.getByLabel('密码').fill(PASSWORD);
    await Promise.all([page.waitForURL((u) => u.pathname === next), page.getByRole('button', { name: '登录' }).click()]);
    check(pathOf(page) === next, `signed in as ${user}, on ${next}`);
  };
  const submit = async (form, name) => {
    await Promise.all([page.waitForEvent('load'), page.locator(form).getByRole('button', { name, exact: true }).click()]);
  };

  // The operator records the call.
  await login('consultant', '/hotline');
  await expectText(page.getByRole('heading', { level: 1 }), '12345 热线工单', 'the hotline desk');
  await axe(page, { label: 'hotline desk' });
  await page.getByLabel('诉求类别').selectOption('complaint');
  await page.getByLabel('所属乡镇（街道）/村（社区）').selectOption('330822001201');
  await page.getByLabel('诉求内容').fill('低保金连续两个月未到账');
  await page.getByLabel('来电人姓名').fill('王大妈');
  await page.getByLabel('来电号码').fill('13800138000');
  await Promise.all([page.waitForURL(/\/hotline\/\d+$/), page.getByRole('button', { name: '登记工单' }).click()]);
  const orderPath = pathOf(page);
  await expectText(page.locator('#order-state'), '已登记', 'the order is registered');
  await expectText(page.locator('#order-facts'), '138****8000', 'the caller\'s phone is masked');
  check(!(await page.content()).includes('13800138000'), 'the full phone number is nowhere on the page');
  await axe(page, { label: 'hotline order (registered)' });

  // Dispatch to 民政局, five working days by default.
  await page.getByLabel('承办部门').selectOption('mzj');
  await submit('#act-dispatch', '派单');
  await expectText(page.locator('#order-state'), '已派单', 'dispatched');
  await expectText(page.locator('#order-department'), '民政局', 'to 民政局');
  await expectText(page.locator('#no-actions'), '没有您可以执行的操作', 'the operator now waits for the department');

  // The department's approver replies.
  await login('approver', '/hotline');
  await expectVisible(page.locator('#hotline-orders').getByRole('link'), 'the department sees the order in its list');
  await go(orderPath);
  await page.getByLabel('答复内容').fill('经核查，系银行卡挂失所致，已重新发放');
  await submit('#act-reply', '提交答复');
  await expectText(page.locator('#order-state'), '已答复', 'replied');
  await expectText(page.locator('#order-reply'), '已重新发放', 'the reply shows');

  // The operator calls back and closes.
  await login('consultant', '/hotline');
  await go(orderPath);
  await page.getByLabel('回访记录').fill('王大妈确认已收到补发的低保金');
  await page.getByLabel('群众满意度').selectOption('satisfied');
  await submit('#act-callback', '记录回访');
  await expectText(page.locator('#order-state'), '已回访', 'called back');
  await expectText(page.locator('#order-callback'), '满意', 'the satisfaction shows');
  await submit('#act-close', '办结');
  await expectText(page.locator('#order-state'), '已办结', 'the order page shows 已办结');
  const steps = await page.locator('#timeline li').evaluateAll((els) => els.map((e) => e.dataset.action));
  check(JSON.stringify(steps) === JSON.stringify(['register', 'dispatch', 'reply', 'callback', 'close']), `the timeline lists every step (${steps})`);
  await expectText(page.locator('#timeline'), '民政局', 'the timeline names the department');
  await axe(page, { label: 'hotline order (closed)' });

  // The list shows it closed.
  await go('/hotline?state=closed');
  await expectText(page.locator('#hotline-orders'), '已办结', 'the list filters closed orders');
});
