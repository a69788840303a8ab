// The pages' states a person meets outside a running forum, each axe-core
// clean (no moderate or worse) at 100% and 200% text, in Korean and English:
// the organizer page, the console and the projector opened without a token,
// the join form, a join code that does not exist, and a draft forum's phone.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, createForum, newPage, noModerateViolations, textSize, screenshot, overlappingControls, PHONE, CONSOLE, PROJECTOR_SIZES } from "./harness.js";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

async function clean(page, name, { controls = true } = {}) {
  for (const lang of ["ko", "en"]) {
    const switcher = page.locator("#lang");
    if (await switcher.count()) await switcher.selectOption(lang);
    for (const percent of [100, 200]) {
      await textSize(page, percent);
      await noModerateViolations(page, `${name} in ${lang} at ${percent}% text`);
      if (controls) assert.deepEqual(await overlappingControls(page), [], `${name} in ${lang} at ${percent}% text: controls`);
      await screenshot(page, `pages-${name}-${lang}-${percent}`);
    }
    await textSize(page, 100);
  }
}

test("pages outside a running forum are clean at 100% and 200% text", { timeout: 120000 }, async () => {
  const organizer = await newPage(browser, CONSOLE, "organizer");
  await organizer.goto(`${server.url}/#admin_token=${server.adminToken}`);
  await organizer.locator("#title").waitFor();
  await clean(organizer, "organizer");

  const console_ = await newPage(browser, CONSOLE, "console without token");
  await console_.goto(`${server.url}/console`);
  await console_.locator("#no-token").waitFor();
  await clean(console_, "console-no-token");
  assert.equal((await console_.locator("h1").innerText()).trim(), "Moderator console", "no dangling colon without a forum");

  const display = await newPage(browser, { viewport: PROJECTOR_SIZES[1][1] }, "display without token");
  await display.goto(`${server.url}/display`);
  await display.locator('[role="alert"]').waitFor();
  await clean(display, "display-no-token");

  const join = await newPage(browser, PHONE, "join form");
  await join.goto(`${server.url}/join`);
  await join.locator("#join-code").waitFor();
  await clean(join, "join-form");

  const wrong = await newPage(browser, PHONE, "wrong code");
  await wrong.goto(`${server.url}/j/ZZZZZZ`);
  await wrong.locator("#join-submit").waitFor();
  await wrong.locator("#join-name").fill("민지");
  await wrong.locator("#join-submit").click();
  await wrong.locator('[role="alert"]:not(:empty), #join-message:not(:empty)').first().waitFor();
  await clean(wrong, "join-wrong-code");
  // Every heading follows the language switch (it ends in English).
  assert.equal(await wrong.locator("#forum-title").textContent(), "Join the forum");
  assert.match(await wrong.locator("#join-error").textContent(), /not valid/);

  const f = await createForum(server, { title: "을지로 공원 포럼", language: "ko", agenda: [{ title: "공원 시설" }] });
  const draft = await newPage(browser, PHONE, "phone in a draft forum");
  await draft.goto(`${server.url}/j/${f.join_codes.remote}`);
  await draft.locator("#join-name").fill("민지");
  await draft.locator("#join-submit").click();
  await draft.locator('#conn[data-status="online"]').waitFor();
  await clean(draft, "phone-draft");

  const errors = [organizer, console_, display, join, wrong, draft].flatMap((p) => p.errors).filter((e) => !/WebSocket connection|net::ERR_|Failed to load resource|HTTP 404/.test(e));
  assert.deepEqual(errors, [], "no page errors");
});
