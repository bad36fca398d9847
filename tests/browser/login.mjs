// Staff sign-in as a member of staff does it: a wrong password keeps them on the login page with an
// announced error (HTTP 401); the right one takes them to /admin; 退出 in the header signs them out and
// /admin asks them to log in again. axe-core on the login page, with and without the error.

import { withBrowser, check, expectText, expectVisible, axe, pathOf } from './lib.mjs';

const USER = 'admin';
const PASSWORD = 'changshan2018';

await withBrowser(async ({ page, context, go, allowConsoleErrors }) => {
  const first = await go('/login');
  check(first.status() === 200, `GET /login is 200 (got ${first.status()})`);
  await expectText(page.getByRole('heading', { level: 1 }), '工作人员登录', 'the login page heading is 工作人员登录');
  check((await page.locator('#login-error').count()) === 0, 'no #login-error before trying');
  await expectVisible(page.getByLabel('用户名'), 'the username field is labelled 用户名');
  await expectVisible(page.getByLabel('密码'), 'the password field is labelled 密码');
  check((await page.getByLabel('密码').getAttribute('type')) === 'password', 'the password field hides what is typed');
  await axe(page, { label: 'login /login' });

  // --- wrong password ---------------------------------------------------------------------------
  await page.getByLabel('用户名').fill(USER);
  await page.getByLabel('密码').fill('not-the-password');
  const wrong = await allowConsoleErrors(/status of 401/, async () => {
    const [resp] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/login' && r.request().method() === 'POST'),
      page.getByRole('button', { name: '登录' }).click(),
    ]);
    await page.waitForLoadState('load');
    return resp;
  });
  check(wrong.status() === 401, `wrong password: POST /login answers 401 (got ${wrong.status()})`);
  check(new URL(page.url()).pathname === '/login', `wrong password: still on /login (now ${pathOf(page)})`);
  const error = page.locator('#login-error');
  await expectVisible(error, 'wrong password: #login-error is visible');
  check((await error.getAttribute('role')) === 'alert', '#login-error has role=alert (announced by screen readers)');
  await expectVisible(page.getByRole('alert').filter({ hasText: '用户名或密码错误' }), 'the alert says 用户名或密码错误');
  check((await page.getByLabel('用户名').inputValue()) === USER, 'the username is kept after a failed attempt');
  check((await page.getByLabel('密码').inputValue()) === '', 'the password field is cleared after a failed attempt');
  check(!(await context.cookies()).some((c) => c.name === 'ow_session' && c.value), 'no session cookie after a failed attempt');
  check((await page.locator('header').getByRole('button', { name: /退出/ }).count()) === 0, 'no 退出 button after a failed attempt');
  await axe(page, { label: 'login with error /login' });

  // --- right password (submitted with Enter) ----------------------------------------------------
  await page.getByLabel('密码').fill(PASSWORD);
  await Promise.all([page.waitForURL((u) => u.pathname === '/admin'), page.getByLabel('密码').press('Enter')]);
  check(new URL(page.url()).pathname === '/admin', `right password: redirected to /admin (now ${pathOf(page)})`);
  await expectVisible(page.locator('#whoami'), 'signed in: #whoami is visible on /admin');
  const session = (await context.cookies()).find((c) => c.name === 'ow_session');
  check(session && session.value && session.httpOnly, 'signed in: the ow_session cookie is set and HttpOnly');
  const logout = page.locator('header').getByRole('button', { name: /退出/ });
  await expectVisible(logout, 'signed in: the header shows a 退出 button');
  const who = (await page.locator('#whoami').textContent()).trim();
  await expectText(logout, who, `the 退出 button names who is signed in (${who})`);
  check((await page.locator('header').getByRole('link', { name: '工作人员登录' }).count()) === 0, 'signed in: the header no longer offers 工作人员登录');

  // --- log out ----------------------------------------------------------------------------------
  await Promise.all([page.waitForURL((u) => u.pathname === '/'), logout.click()]);
  check(new URL(page.url()).pathname === '/', `after 退出: back on the home page (now ${pathOf(page)})`);
  check((await page.locator('header').getByRole('button', { name: /退出/ }).count()) === 0, 'after 退出: no 退出 button in the header');
  await expectVisible(page.locator('header').getByRole('link', { name: '工作人员登录' }), 'after 退出: the header offers 工作人员登录 again');
  check(!(await context.cookies()).some((c) => c.name === 'ow_session' && c.value), 'after 退出: the session cookie is gone');
  await go('/admin');
  check(new URL(page.url()).pathname === '/login', `after 退出: /admin redirects to /login (now ${pathOf(page)})`);
  check(new URL(page.url()).searchParams.get('next') === '/admin', '…with next=/admin so signing in returns there');
  // The session ends on the server too: the old cookie, if kept (another tab, a copied cookie), is useless.
  await context.addCookies([{ ...session, expires: -1 }]);
  await go('/admin');
  check(new URL(page.url()).pathname === '/login', `after 退出: the old session cookie no longer opens /admin (now ${pathOf(page)})`);
  await context.clearCookies();
});
