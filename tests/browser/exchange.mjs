// Data exchange (免证办) in the browser: the acceptor accepts 补领婚姻登记证 (MZJ-006) with the marriage
// archive certificate missing (容缺受理), looks the marriage record up from 民政局 on the case page with a
// purpose, and the checklist marks the certificate verified by data exchange; then the citizen, from the
// tracking link on the receipt, opens "谁用了我的数据" and finds the lookup with its department and
// purpose. axe on the case page and the data-use page.

import { withBrowser, check, expectText, axe, pathOf, squash } from './lib.mjs';

const PASSWORD = 'changshan2018';
const ITEM = 'MZJ-006';
const ARCHIVE = '婚姻登记档案证明（可经数据共享调取）';
const ID_NUMBER = '11010519491231002X'; // has a marriage record in the demo's exchange data
const PURPOSE = '补领结婚证，核实婚姻登记记录';

await withBrowser(async ({ page, context, go }) => {
  await context.clearCookies();
  await go(`/login?next=${encodeURIComponent('/cases/new')}`);
  await page.getByLabel('用户名').fill('acceptor');
  await page.getByLabel('密码').fill(PASSWORD);
  await Promise.all([page.waitForURL((u) => u.pathname === '/cases/new'), page.getByRole('button', { name: '登录' }).click()]);
  check(pathOf(page) === '/cases/new', 'the acceptor is signed in at /cases/new');

  // --- acceptance with the archive certificate missing ---------------------------------------------------
  await page.getByPlaceholder(/事项名称/).fill('补领婚姻');
  await page.getByRole('button', { name: '查找', exact: true }).click();
  await page.locator(`#item-results button[data-code="${ITEM}"]`).click();
  await expectText(page.locator('#item-name'), '补领婚姻登记证', `${ITEM} chosen`);
  const mark = async (name, label) => page.locator(`#materials tr[data-material="${name}"]`).getByLabel(label, { exact: true }).check();
  await page.getByRole('button', { name: '全部已收取' }).click();
  await mark(ARCHIVE, '缺');
  await page.getByLabel('姓名').fill('张三丰');
  await page.getByLabel('身份证号').fill(ID_NUMBER);
  await page.getByLabel(/手机号码/).fill('13800138000');
  await page.getByLabel(/容缺受理/).check();
  await Promise.all([page.waitForURL(/\/cases\/\d+\/receipt$/), page.getByRole('button', { name: '受理并打印回执' }).click()]);
  const caseId = Number(new URL(page.url()).pathname.split('/')[2]);
  const caseNumber = squash(await page.locator('#case-number').textContent());
  const trackHref = await page.locator('#track-link').getAttribute('href');
  check(caseId > 0 && !!trackHref, `case ${caseNumber} accepted, tracking link ${trackHref}`);

  // --- the lookup on the case page -------------------------------------------------------------------
  await go(`/cases/${caseId}`);
  const row = page.locator(`#case-materials tr[data-material="${ARCHIVE}"]`);
  check((await row.getAttribute('data-status')) === 'missing', 'the archive certificate is missing at first');
  const box = page.locator('#exchange-box');
  await expectText(box.getByRole('heading', { level: 2 }), '数据共享查询', 'the case page has the 数据共享查询 box');
  await page.locator('#exchange-service option[value="marriage"]').waitFor({ state: 'attached' });
  const options = await page.locator('#exchange-service option').allTextContents();
  check(options.some((o) => o.includes('婚姻登记记录')) && options.some((o) => o.includes('仅核验有无')), `the box offers the services the front desk may query (${options.length - 1})`);
  await axe(page, { label: '/cases/{id} with the data exchange box' });
  await page.getByLabel('数据服务').selectOption('marriage');
  await page.getByLabel(/查询用途/).fill(PURPOSE);
  await page.getByLabel(/作为以下材料核验/).selectOption(ARCHIVE);
  await Promise.all([page.waitForEvent('load'), box.getByRole('button', { name: '查询', exact: true }).click()]);
  await expectText(page.locator('#case-flash'), '已核验（数据共享）', 'the page says the material is verified by data exchange');
  check((await row.getAttribute('data-status')) === 'verified', 'the checklist marks the archive certificate verified');
  await expectText(row, '数据共享', 'its status reads as verified by data exchange');
  await expectText(page.locator('#exchange-history'), '李秀英', "the lookup's result (the spouse's name) is shown to the acceptor");
  await expectText(page.locator('#timeline'), '婚姻登记记录（数据共享）', 'the timeline records the verification');
  await axe(page, { label: '/cases/{id} after the lookup' });

  // --- the citizen: tracking page → who used my data --------------------------------------------------
  await context.clearCookies();
  await go(trackHref);
  await Promise.all([page.waitForURL((u) => u.pathname.endsWith('/data-use')), page.getByRole('link', { name: /谁用了我的数据/ }).click()]);
  await expectText(page.getByRole('heading', { level: 1 }), '谁用了我的数据', 'the data-use page opens from the tracking page');
  const use = page.locator('#data-use tbody tr[data-kind="lookup"]');
  check((await use.count()) === 1, 'one lookup is listed');
  await expectText(use, '常山县行政服务中心', 'by the service centre');
  await expectText(use, PURPOSE, 'with its purpose');
  await expectText(use, '婚姻登记记录', 'of the marriage record');
  await expectText(use, caseNumber, 'for this case');
  const html = await page.content();
  check(!html.includes('李秀英') && !html.includes(ID_NUMBER), 'the page shows the use, never the data');
  await axe(page, { label: '/track/{token}/data-use' });
});
