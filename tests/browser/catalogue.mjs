// The public catalogue as a citizen uses it: search from the home page (Chinese, pinyin, initials),
// filter the list, open an item, switch to English and back, read the coverage page; axe-core on each
// page type; the item page on a phone without sideways scrolling.

import { withBrowser, check, expectText, expectVisible, axe, expectNoHorizontalScroll, pathOf, squash } from './lib.mjs';

/** Names and meta lines (`department · zone · trip · promised`) of the results on the page. */
async function results(page) {
  return page.locator('#results li.result').evaluateAll((lis) =>
    lis.map((li) => ({
      code: li.dataset.code,
      name: li.querySelector('a')?.textContent.trim() ?? '',
      meta: (li.querySelector('.meta')?.textContent ?? '').replace(/\s+/g, ' ').trim(),
    })),
  );
}

/** Types `q` into the page's search box (#q) and submits its form by pressing the search button. */
async function search(page, q) {
  const box = page.locator('#q');
  await box.fill('');
  await box.pressSequentially(q);
  await Promise.all([page.waitForURL(/\/items\?/), page.locator('form[role=search] button[type=submit]').click()]);
  check(new URL(page.url()).searchParams.get('q') === q, `search "${q}" submitted: now on ${decodeURI(pathOf(page))}`);
  const r = await results(page);
  check(r.length > 0, `search "${q}": #results has items (${r.length}: ${r.slice(0, 3).map((x) => x.name).join('，')}…)`);
  return r;
}

await withBrowser(async ({ page, go, newPhonePage }) => {
  // --- home -------------------------------------------------------------------------------------
  const home = await go('/');
  check(home.status() === 200, `GET / is 200 (got ${home.status()})`);
  check((await page.locator('html').getAttribute('lang')) === 'zh-CN', 'home page is <html lang="zh-CN">');
  await expectVisible(page.getByRole('searchbox'), 'home page has a search box');
  await expectVisible(page.getByLabel(/搜索办事事项/), 'the search box is labelled 搜索办事事项…');
  await axe(page, { label: 'home /' });

  // --- search: initials, pinyin, Chinese ----------------------------------------------------------
  let r = await search(page, 'sb');
  for (const x of r.slice(0, 2)) {
    check(x.name.includes('社保') || x.meta.split(' · ')[1] === '社保', `"sb": top result ${x.name} is a social-insurance item (meta: ${x.meta})`);
  }
  check(r[0].meta.includes('社保'), `"sb": first result's meta shows zone 社保 (meta: ${r[0].meta})`);
  await axe(page, { label: 'items list /items?q=sb' });

  await go('/');
  r = await search(page, 'shebao');
  check(r[0].name.includes('社保'), `"shebao": first result name contains 社保 (${r[0].name})`);

  // the list page has its own search form
  r = await search(page, '社保');
  check(r[0].name.includes('社保'), `"社保": first result name contains 社保 (${r[0].name})`);
  check((await page.locator('#q').inputValue()) === '社保', 'the list page keeps the query in its search box');

  r = await search(page, 'hunyin');
  check(r[0].name.includes('婚姻'), `"hunyin": first result name contains 婚姻 (${r[0].name})`);

  // --- filters ----------------------------------------------------------------------------------
  await go('/items');
  await page.locator('#q').fill('');
  await page.locator('select#zone').selectOption('realestate');
  await page.locator('select#trip_level').selectOption('0');
  await Promise.all([page.waitForURL(/zone=realestate/), page.locator('form[role=search] button[type=submit]').click()]);
  const url = new URL(page.url());
  check(url.searchParams.get('trip_level') === '0', `filter submitted: ${decodeURI(pathOf(page))}`);
  check((await page.locator('select#zone').inputValue()) === 'realestate', 'the zone filter stays selected after submitting');
  check((await page.locator('select#trip_level').inputValue()) === '0', 'the trip filter stays selected after submitting');
  r = await results(page);
  check(r.length > 0, `zone 不动产 + 零跑腿: #results has items (${r.length})`);
  for (const x of r) {
    check(x.meta.includes('不动产') && x.meta.includes('零跑腿'), `filtered result ${x.name} is 不动产 and 零跑腿 (meta: ${x.meta})`);
  }
  await expectText(page.locator('#result-count'), String(r.length), `#result-count says ${r.length}`);

  // --- item page --------------------------------------------------------------------------------
  await go('/');
  r = await search(page, '低保');
  check(r.some((x) => x.name === '最低生活保障'), `"低保" finds 最低生活保障 (results: ${r.map((x) => x.name).join('，')})`);
  await Promise.all([page.waitForURL(/\/items\/[^?]+$/), page.locator('#results').getByRole('link', { name: '最低生活保障', exact: true }).click()]);
  const itemPath = pathOf(page);
  check(true, `clicked 最低生活保障: now on ${itemPath}`);
  await expectText(page.locator('#item-name'), /^\s*最低生活保障\s*$/, '#item-name is 最低生活保障');
  check((await page.getByRole('heading', { level: 1 }).textContent()).trim() === '最低生活保障', 'the page heading (h1) is 最低生活保障');
  await expectText(page.locator('#department'), '民政局', '#department contains 民政局');
  const trip = squash(await page.locator('#trip').textContent());
  check(['零跑腿', '最多跑一次', '跑多次'].includes(trip), `#trip shows the trip level (${trip})`);
  await expectText(page.locator('#statutory'), /\d+\s*个工作日/, '#statutory shows N 个工作日');
  await expectText(page.locator('#promised'), /\d+\s*个工作日|即办/, '#promised shows N 个工作日 (or 即办)');
  const materials = page.locator('table#materials');
  await expectVisible(materials, 'the #materials table is shown');
  const headers = (await materials.locator('thead th').allTextContents()).map(squash);
  check(headers.includes('材料名称') && headers.includes('可否容缺'), `#materials has columns 材料名称 and 可否容缺 (${headers.join(' | ')})`);
  const idRow = materials.locator('tbody tr', { hasText: '居民身份证' });
  check((await idRow.count()) === 1, '#materials has a 居民身份证 row');
  const idCells = (await idRow.locator('td').allTextContents()).map(squash);
  check(['必须提交', '可容缺后补'].includes(idCells[headers.indexOf('可否容缺')]), `居民身份证 row says 必须提交 or 可容缺后补 under 可否容缺 (${idCells.join(' | ')})`);
  const rows = (await materials.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.lastElementChild.textContent.trim())));
  check(rows.every((c) => c === '必须提交' || c === '可容缺后补'), `every material says 必须提交 or 可容缺后补 (${rows.join('，')})`);
  await axe(page, { label: `item page ${itemPath}` });

  // --- English and back ---------------------------------------------------------------------------
  const nav = page.getByRole('navigation', { name: '主导航' });
  await Promise.all([page.waitForURL((u) => u.pathname === new URL(itemPath, 'http://x').pathname), page.locator('header').getByRole('link', { name: 'English' }).click()]);
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  check(pathOf(page) === itemPath, `"English" keeps the reader on ${itemPath} (now ${pathOf(page)})`);
  check((await page.locator('html').getAttribute('lang')) === 'en', 'after "English": <html lang="en">');
  const navEn = page.getByRole('navigation', { name: 'Main' });
  await expectVisible(navEn.getByRole('link', { name: 'Service items', exact: true }), 'the header nav says "Service items"');
  await expectText(page.locator('.crumbs'), 'Service items', 'the breadcrumb says "Service items"');
  await expectText(page.getByRole('heading', { level: 2 }).first(), 'What to bring', 'the materials heading is English ("What to bring")');
  await expectText(page.locator('#statutory'), 'working days', '#statutory is in working days');
  await expectText(page.locator('#materials thead'), 'May be supplied later', 'the materials table headers are English');
  await Promise.all([page.waitForURL('**/items'), navEn.getByRole('link', { name: 'Service items', exact: true }).click()]);
  await expectText(page.getByRole('heading', { level: 1 }), 'Service items', 'the items list heading is English ("Service items")');
  await axe(page, { label: 'items list in English /items' });
  await Promise.all([page.waitForURL('**/items'), page.locator('header').getByRole('link', { name: '中文' }).click()]);
  await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
  check((await page.locator('html').getAttribute('lang')) === 'zh-CN', 'after "中文": <html lang="zh-CN"> again');
  await expectText(page.getByRole('heading', { level: 1 }), '办事指南', 'the items list heading is Chinese again (办事指南)');
  await expectVisible(nav.getByRole('link', { name: '办事指南', exact: true }), 'the header nav is Chinese again (办事指南)');

  // --- coverage ---------------------------------------------------------------------------------
  await go('/');
  await Promise.all([page.waitForURL('**/stats/coverage'), page.locator('header').getByRole('link', { name: '零跑腿覆盖' }).click()]);
  await expectText(page.locator('#zero'), /^\s*\d+\s*$/, '/stats/coverage shows the zero-trip count in #zero');
  for (const id of ['by-department', 'by-zone']) {
    const n = await page.locator(`table#${id} tbody tr`).count();
    check(n > 0, `/stats/coverage table #${id} has rows (${n})`);
  }
  await expectVisible(page.locator('table#by-zone tbody tr', { hasText: '社保' }), '#by-zone has a 社保 row');
  await axe(page, { label: 'coverage /stats/coverage' });

  // --- phone ------------------------------------------------------------------------------------
  const phone = await newPhonePage();
  await phone.page.goto(new URL(itemPath, page.url()).href);
  await expectText(phone.page.locator('#item-name'), '最低生活保障', `phone 390x844: item page ${itemPath} loads`);
  await expectNoHorizontalScroll(phone.page, `phone item page ${itemPath}`);
  await phone.page.goto(new URL('/items?q=sb', page.url()).href);
  await expectNoHorizontalScroll(phone.page, 'phone items list /items?q=sb');
  await phone.page.goto(new URL('/', page.url()).href);
  await expectNoHorizontalScroll(phone.page, 'phone home /');
  await phone.context.close();
});
