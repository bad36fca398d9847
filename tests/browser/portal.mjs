// The citizen's side on a phone (390 x 844), zero trips from start to finish: the item page's 在线办理
// → SMS sign-in (the code read from the log gateway's outbox at /admin/messages; a wrong code first
// shows its message) → the form generated from the item's declared fields, a wrong file refused with
// its message and nothing stored → the real files, free express, submitted → staff (desktop) pre-accept
// and approve, ship to the chosen address → the citizen confirms receipt and rates 非常满意 → the case
// shows trips 0. Then 我的办件, 预约 (a slot booked), 谁用了我的数据, the follow-up page; axe on every
// citizen page and no sideways scrolling on the phone.

import { withBrowser, check, expectText, expectVisible, axe, pathOf, squash, note, expectNoHorizontalScroll, PHONE } from './lib.mjs';

const PASSWORD = 'changshan2018';
const ITEM = 'RLSBJ-002'; // 灵活就业人员参保登记: zero trips, online, declared form fields
const MOBILE = `1390580${String(Date.now() % 10000).padStart(4, '0')}`;
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6300010000050001' +
    '0d0a2db40000000049454e44ae426082',
  'hex',
);
const PDF = Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n');

await withBrowser(
  async ({ page, browser, base, go, allowConsoleErrors }) => {
    // Staff work on a desktop in their own context.
    const staffContext = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
    const staff = await staffContext.newPage();
    const staffLogin = async (user, next) => {
      await staffContext.clearCookies();
      await staff.goto(`${base}/login?next=${encodeURIComponent(next)}`);
      await staff.getByLabel('用户名').fill(user);
      await staff.getByLabel('密码').fill(PASSWORD);
      await Promise.all([staff.waitForURL((u) => u.pathname + u.search === next), staff.getByRole('button', { name: '登录' }).click()]);
      check(pathOf(staff) === next, `staff ${user} signed in, on ${next}`);
    };
    const staffAct = async (name) => {
      await Promise.all([staff.waitForEvent('load'), staff.locator('#case-actions').getByRole('button', { name, exact: true }).click()]);
      await expectText(staff.locator('#case-flash'), `已完成：${name}`, `staff: ${name} done`);
    };
    const phoneChecks = async (label) => {
      await axe(page, { label });
      await expectNoHorizontalScroll(page, label);
    };

    // --- the item page leads to the online form, through sign-in ---------------------------------------
    await go(`/items/${ITEM}`);
    await Promise.all([page.waitForURL((u) => u.pathname === '/my/login'), page.locator('#apply-online').click()]);
    check(new URL(page.url()).searchParams.get('next') === `/my/apply/${ITEM}`, `在线办理 asks to sign in first, coming back to the form (${pathOf(page)})`);
    await phoneChecks('/my/login');
    await page.getByLabel('手机号').fill(MOBILE);
    await Promise.all([page.waitForURL((u) => u.searchParams.get('sent') === '1'), page.getByRole('button', { name: '获取验证码' }).click()]);
    await expectVisible(page.locator('#code-sent'), 'the page says the code was sent');

    // The code, as it reached the phone (the stand-in SMS provider's inbox, through the HTTP gateway).
    let code = null;
    for (let i = 0; i < 100 && !code; i++) {
      const inbox = await (await fetch(process.env.SMS_INBOX)).json();
      const sms = inbox.filter((m) => m.to === MOBILE && m.text.includes('验证码')).pop();
      code = sms ? /验证码为(\d{6})/.exec(sms.text)?.[1] : null;
      if (!code) await new Promise((r) => setTimeout(r, 100));
    }
    check(!!code, 'the sign-in SMS with a 6-digit code reached the phone');
    // Staff never see a citizen's code: the outbox page masks it.
    await staffLogin('admin', '/admin/messages');
    const row = squash(await staff.locator('#messages-table tbody tr', { hasText: '您的登录验证码为' }).first().textContent());
    check(row.includes('验证码为******') && !row.includes(code) && row.includes('139****'), `the admin outbox shows the code and the number masked ("${row.slice(0, 80)}…")`);

    const wrong = code === '000000' ? '111111' : '000000';
    await page.getByLabel('短信验证码（6位数字）').fill(wrong);
    await allowConsoleErrors(/status of 422/, async () => {
      await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: '登录', exact: true }).click()]);
    });
    await expectText(page.locator('#error-code'), '还可尝试4次', 'a wrong code says how many tries are left');
    await phoneChecks('/my/login (wrong code)');
    await page.getByLabel('短信验证码（6位数字）').fill(code);
    await Promise.all([page.waitForURL((u) => u.pathname === `/my/apply/${ITEM}`), page.getByRole('button', { name: '登录', exact: true }).click()]);
    check(pathOf(page) === `/my/apply/${ITEM}`, 'signed in: back on the application form');
    await expectText(page.locator('#whoami'), '139****', 'the header shows the masked number');

    // --- the generated form ---------------------------------------------------------------------------
    await expectVisible(page.getByLabel('参保险种'), 'the declared choice field 参保险种 is on the form');
    await phoneChecks(`/my/apply/${ITEM}`);
    await page.getByLabel('姓名').fill('毛志坚');
    await page.getByLabel('身份证号码').fill('330822198001010011');
    await page.getByLabel('参保险种').selectOption('养老和医疗保险');
    await page.getByLabel('缴费档次').selectOption('100%');
    await page.getByLabel('户籍地址').fill('常山县天马街道人民路1号');
    await page.getByLabel('申请参保年月').fill('2026-12');
    await page.getByLabel('免费快递到家（零跑腿）').check();
    await page.getByLabel('收件人（快递时填写）').fill('毛志坚');
    await page.getByLabel('收件地址（快递时填写）').fill('常山县天马街道人民路1号');
    // A program named .pdf: refused by its content, the form comes back with the answers kept.
    await page.locator('#file-0').setInputFiles({ name: '身份证.pdf', mimeType: 'application/pdf', buffer: Buffer.from('MZ\x90\x00 not a pdf') });
    await page.locator('#file-1').setInputFiles({ name: '申请单.pdf', mimeType: 'application/pdf', buffer: PDF });
    await allowConsoleErrors(/status of 422/, async () => {
      await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: '提交申请' }).click()]);
    });
    await expectText(page.locator('#error-file-0'), '只能上传 PDF、JPEG 或 PNG 文件', 'the wrong file is refused by content, at its field');
    check((await page.getByLabel('户籍地址').inputValue()) === '常山县天马街道人民路1号', 'the answers are kept');
    await phoneChecks(`/my/apply/${ITEM} (errors)`);
    const apps = await page.request.get(`${base}/api/v1/citizen/applications`);
    check((await apps.json()).length === 0, 'nothing was stored by the refused submission');

    await page.locator('#file-0').setInputFiles({ name: '身份证.png', mimeType: 'image/png', buffer: PNG });
    await page.locator('#file-1').setInputFiles({ name: '申请单.pdf', mimeType: 'application/pdf', buffer: PDF });
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/my/cases/')), page.getByRole('button', { name: '提交申请' }).click()]);
    await expectVisible(page.locator('#notice'), 'submitted: the case page says so');
    const number = squash(await page.locator('#case-number').textContent());
    await expectText(page.locator('#case-state'), '待预受理', `case ${number} waits for pre-acceptance`);
    await expectText(page.locator('#delivery-choice'), '免费快递', 'the chosen delivery is shown');
    await expectText(page.locator('#case-files'), '身份证.png', 'the uploaded files are listed');
    await phoneChecks('/my/cases/… (submitted)');

    // --- the back office -----------------------------------------------------------------------------
    await staffLogin('acceptor', '/worklist');
    const id = (await (await staff.request.get(`${base}/api/v1/cases/by-number/${number}`)).json()).id;
    await staff.goto(`${base}/cases/${id}`);
    await expectText(staff.locator('#delivery-choice'), '常山县天马街道人民路1号', 'staff see the express address the citizen chose');
    await expectVisible(staff.locator('#case-files a', { hasText: '身份证.png' }), 'staff see the uploaded file');
    const file = await staff.request.get(new URL(await staff.locator('#case-files a').first().getAttribute('href'), base).href);
    check(file.status() === 200 && file.headers()['content-type'] === 'image/png', 'the file opens for staff as image/png');
    await staffAct('预受理通过');
    await staffLogin('approver2', `/cases/${id}`);
    await staffAct('审批通过');
    await staffLogin('acceptor', `/cases/${id}`);
    check((await staff.locator('#ship-address').inputValue()).includes('常山县天马街道人民路1号'), 'the shipping form has the citizen’s address');
    await staff.locator('#ship-tracking').fill('EMS1234567890');
    await staffAct('快递寄出');

    // --- the citizen receives and rates --------------------------------------------------------------
    await page.reload();
    await expectText(page.locator('#case-state'), '已寄出', 'the citizen sees the result shipped');
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: '确认收到' }).click()]);
    await expectText(page.locator('#case-state'), '已办结', 'confirmed: the case is closed');
    await expectText(page.locator('#case-trips'), '0', 'trips: 0 (zero trips)');
    await phoneChecks('/my/cases/… (closed, rating form)');
    await page.getByLabel('非常满意').check();
    await page.getByLabel(/意见或建议/).fill('全程手机办理，没跑一趟');
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: '提交评价' }).click()]);
    await expectText(page.locator('#my-rating'), '非常满意', 'rated 非常满意');

    // --- a draft kept for later, then a correction answered by upload ------------------------------------
    await go('/my/apply/MZJ-013');
    await page.getByLabel('姓名').fill('毛志坚');
    await page.getByLabel('居住地址').fill('常山县天马街道人民路1号');
    await page.locator('#file-0').setInputFiles({ name: '身份证.png', mimeType: 'image/png', buffer: PNG });
    await Promise.all([page.waitForURL((u) => u.searchParams.get('saved') === '1'), page.getByRole('button', { name: '保存草稿' }).click()]);
    await expectVisible(page.locator('#saved'), 'a half-filled draft is saved');
    await expectText(page.locator('.uploaded').first(), '身份证.png', 'the draft keeps its file');
    await phoneChecks('/my/apply/MZJ-013 (draft)');
    await page.getByLabel('身份证号码').fill('330822198001010011');
    await page.getByLabel('出生日期').fill('1950-01-01');
    await page.getByLabel('电子送达（网上下载，零跑腿）').check();
    await page.locator('#file-1').setInputFiles({ name: '照片.jpg', mimeType: 'image/jpeg', buffer: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]) });
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/my/cases/')), page.getByRole('button', { name: '提交申请' }).click()]);
    const second = squash(await page.locator('#case-number').textContent());
    const token = async (user) => (await (await staff.request.post(`${base}/api/v1/session`, { data: { username: user, password: PASSWORD } })).json()).token;
    const secondId = (await (await staff.request.get(`${base}/api/v1/cases/by-number/${second}`)).json()).id;
    const apiAct = async (user, body) => {
      const r = await staff.request.post(`${base}/api/v1/cases/${secondId}/actions`, { data: body, headers: { authorization: `Bearer ${await token(user)}` } });
      check(r.status() === 200, `staff ${user}: ${body.action} (${r.status()})`);
    };
    await apiAct('acceptor', { action: 'pre_accept' });
    await apiAct('approver', { action: 'return', comment: '照片需为近期免冠照' });
    await page.reload();
    await expectText(page.locator('#case-state'), '待补正', 'the citizen sees the correction request');
    await expectText(page.locator('#h-correct + .comment'), '照片需为近期免冠照', 'with the department’s reason');
    await phoneChecks('/my/cases/… (correction)');
    await page.locator('#corr-1').setInputFiles({ name: '新照片.png', mimeType: 'image/png', buffer: PNG });
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: '提交补正' }).click()]);
    await expectText(page.locator('#case-state'), '部门审批中', 'the correction sends the case back to the department');
    await expectText(page.locator('#case-files'), '新照片.png', 'the correction file is listed');

    // --- the rest of the citizen's pages -------------------------------------------------------------
    await go('/my');
    await expectVisible(page.locator('#my-cases .case-link', { hasText: '灵活就业人员参保登记' }), '我的办件 lists the case');
    await phoneChecks('/my');
    await go('/my/appointments');
    await phoneChecks('/my/appointments');
    const free = page.locator('#book input[name=slot]:not([disabled])').first();
    await free.check();
    await Promise.all([page.waitForURL((u) => u.searchParams.get('booked') === '1'), page.getByRole('button', { name: '预约', exact: true }).click()]);
    await expectVisible(page.locator('#booked'), 'a slot is booked');
    await expectText(page.locator('#my-appointments'), '已预约', 'the booking is listed');
    await phoneChecks('/my/appointments (booked)');
    await go('/my/data-use');
    await phoneChecks('/my/data-use');
    // English too.
    await go('/my?lang=en');
    await expectText(page.getByRole('heading', { level: 1 }), 'My cases', 'English is available');
    await axe(page, { label: '/my (English)' });

    // Another citizen's case is 404 for this citizen too (made up number).
    await allowConsoleErrors(/status of 404/, async () => {
      const r = await go('/my/cases/330822-20990101-00001');
      check(r.status() === 404, 'a case that is not mine is 404');
    });

    await staffLogin('approver2', '/followups');
    await axe(staff, { label: '/followups' });
    await staffContext.close();
    note(`citizen ${MOBILE.slice(0, 3)}****, case ${number}`);
  },
  { timeoutMs: 120_000, contextOptions: PHONE },
);
