// The participant's phone and the join page in a real browser at 390x844:
// an honest connection state, drag-to-rank with mouse and touch, errors in
// the page's language, the language a first visit gets, one participant per
// device, and the join page's view of a forum before joining.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { startServer, launchBrowser, createForum, wsActor, newPage, online, noSeriousViolations, noModerateViolations, textSize, screenshot, PHONE } from "./harness.js";

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

/** A forum with one agenda item, created over HTTP; its moderator commands go over a WebSocket from a page of the server's origin. */
async function forum({ title = "강변 공원 포럼", language = "ko" } = {}) {
  const created = await createForum(server, { title, language, agenda: [{ title: "놀이터" }] });
  const moderator = await wsActor(server, browser, { token: created.moderator_token });
  await moderator.command({ type: "start_forum" });
  await moderator.command({ type: "activate_item", item: 1 });
  return { ...created, command: moderator.command, close: moderator.close };
}

async function rankedPoll(f, labels) {
  const ack = await f.command({ type: "create_poll", title: "놀이터 순위", method: { kind: "ranked" }, options: { from: "fixed", labels } });
  const poll = ack.poll ?? ack.poll_id;
  await f.command({ type: "open_poll", poll });
  return poll;
}

/** Join on a phone with the forum's remote code; the page, with cast_ballot frames it sent collected. */
async function join(f, { page, name = "민지" } = {}) {
  page ??= await newPage(browser, PHONE, "phone");
  page.sent = [];
  page.on("websocket", (ws) => ws.on("framesent", (e) => {
    try {
      const frame = JSON.parse(e.payload);
      if (frame.type === "cast_ballot") page.sent.push(frame);
    } catch {}
  }));
  await page.goto(`${server.url}/j/${f.join_codes.remote}`);
  await page.locator('#join-section:not([hidden]), #conn[data-status="online"]').first().waitFor();
  if (await page.locator("#join-section").isVisible()) {
    await page.locator("#join-name").fill(name);
    await page.locator("#join-submit").click();
  }
  await online(page);
  return page;
}

async function rankOptions(page, poll, ids) {
  for (const id of ids) await page.locator(`[data-key="rk-add-${poll}-${id}"]`).click();
}

const order = (page, poll) => page.locator(`#rank-list-${poll} > li`).evaluateAll((lis) => lis.map((li) => Number(li.dataset.option)));

test("offline is shown within 2 s, pinned, with what waits to be sent; connected only once the server answers", { timeout: 90000 }, async () => {
  const f = await forum();
  const poll = await rankedPoll(f, ["그늘막", "분수", "모래밭"]);
  const page = await join(f);
  await rankOptions(page, poll, [1, 2, 3]);
  // Scrolled down, as a phone is while voting: the state must still be in view.
  await page.locator(`#submit-${poll}`).scrollIntoViewIfNeeded();
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));

  const inView = async () => {
    const box = await page.locator("#conn").boundingBox();
    return box && box.y >= 0 && box.y + box.height <= 844 && box.width > 0;
  };

  // 1. The network goes away.
  await page.context().setOffline(true);
  const lost = Date.now();
  await page.locator('#conn[data-status="offline"]').waitFor({ timeout: 2000 });
  assert.ok(Date.now() - lost <= 2000);
  assert.ok(await inView(), "the connection state is visible on a scrolled page");
  await page.locator(`#submit-${poll}`).click();
  await page.locator("#conn").filter({ hasText: "투표 1개" }).waitFor({ timeout: 2000 });
  await screenshot(page, "phone-offline-ko");
  await page.context().setOffline(false);
  await online(page);
  await page.locator(`#ballot-state-${poll}[data-state="saved"]`).waitFor();
  assert.doesNotMatch(await page.locator("#conn").textContent(), /투표 1개/);

  // 2. The server stops answering while the network is up.
  server.signal("SIGSTOP");
  try {
    const stopped = Date.now();
    await page.locator('#conn[data-status="offline"]').waitFor({ timeout: 2500 });
    assert.ok(Date.now() - stopped <= 2500, "a server that stopped answering is noticed");
    assert.ok(await inView());
    // Not "connected" again while the server is silent.
    await page.waitForTimeout(1500);
    assert.notEqual(await page.locator("#conn").getAttribute("data-status"), "online");
  } finally {
    server.signal("SIGCONT");
  }
  await online(page);
  assert.deepEqual(page.errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|WebSocket/.test(e)), []);
  await f.close();
});

test("a mouse drag and a touch drag reorder a ranking, and the ballot sent has the new order", { timeout: 60000 }, async () => {
  const f = await forum();
  const poll = await rankedPoll(f, ["그늘막", "분수", "모래밭", "벤치"]);
  const page = await join(f);
  await rankOptions(page, poll, [1, 2, 3, 4]);
  assert.deepEqual(await order(page, poll), [1, 2, 3, 4]);

  // Mouse: the third item's handle onto the first row.
  const handle = (id) => page.locator(`[data-key="rk-h-${poll}-${id}"]`);
  const row = (n) => page.locator(`#rank-list-${poll} > li`).nth(n);
  const from = await handle(3).boundingBox();
  const to = await row(0).boundingBox();
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2 + ((to.y + 4 - from.y - from.height / 2) * i) / 10);
  await page.mouse.up();
  assert.deepEqual(await order(page, poll), [3, 1, 2, 4]);
  assert.equal(await page.locator(`#rank-list-${poll} .dragging`).count(), 0, "nothing is left greyed");

  // Touch: the last item's handle onto the second row, with real touch input.
  const cdp = await page.context().newCDPSession(page);
  const t0 = await handle(4).boundingBox();
  const target = await row(1).boundingBox();
  const x = t0.x + t0.width / 2;
  const y0 = t0.y + t0.height / 2;
  await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [{ x, y: y0 }] });
  for (let i = 1; i <= 12; i++) {
    await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [{ x, y: y0 + ((target.y + 4 - y0) * i) / 12 }] });
  }
  await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  await page.waitForFunction((p) => [...document.querySelectorAll(`#rank-list-${p} > li`)].map((li) => li.dataset.option).join() === "3,4,1,2", poll);

  // The keyboard still works: the first item down one.
  await handle(3).focus();
  await page.keyboard.press("ArrowDown");
  assert.deepEqual(await order(page, poll), [4, 3, 1, 2]);

  await page.locator(`#submit-${poll}`).click();
  await page.locator(`#ballot-state-${poll}[data-state="saved"]`).waitFor();
  assert.deepEqual(page.sent.at(-1).ballot, { kind: "ranked", ranking: [4, 3, 1, 2] });
  // The hint describes what works: dragging included, as it does.
  assert.match(await page.locator(`#rank-hint-${poll}`).textContent(), /끌어/);
  await f.close();
});

test("errors are shown in the page's language from the code and rule, never the server's English", { timeout: 60000 }, async () => {
  const f = await forum();
  const poll = await rankedPoll(f, ["그늘막", "분수"]);
  const page = await join(f);
  // A ballot the method refuses (an option twice), sent as the page sends ballots.
  await page.evaluate((p) => {
    window.madang.cast(p, { kind: "ranked", ranking: [1, 1] });
  }, poll);
  const state = page.locator(`#ballot-state-${poll}[data-state="error"]`);
  await state.waitFor();
  const text = await state.textContent();
  assert.match(text, /[가-힣]/, `Korean: ${text}`);
  assert.doesNotMatch(text, /[A-Za-z]{4,}/, `no English: ${text}`);
  // The shared table covers every error code (SPEC §11) and every rule (§9.4, §9.5, §13), in both languages.
  const spec = await readFile(new URL("../../protocol/SPEC.md", import.meta.url), "utf8");
  const section = (from, to) => spec.slice(spec.indexOf(from), spec.indexOf(to, spec.indexOf(from)));
  const codes = [...section("## 11. Error codes", "## 12.").matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
  const rules = [...new Set([...spec.matchAll(/`((?:ballot|option|approval|dots|score|ranked|pairwise|limit)\.[a-z_]+)`/g)].map((m) => m[1]))];
  assert.ok(codes.length >= 10 && rules.length >= 20, `${codes.length} codes, ${rules.length} rules`);
  const untranslated = await page.evaluate(async ({ codes, rules }) => {
    const { errorText, setLanguage } = await import("/static/i18n.js");
    const bad = [];
    for (const lang of ["ko", "en"]) {
      setLanguage(lang);
      const seen = new Set();
      for (const [code, rule] of [...codes.map((c) => [c, undefined]), ...rules.map((r) => [r.startsWith("limit.") ? "invalid" : "ballot_invalid", r])]) {
        const text = errorText({ code, rule, message: "SERVER ENGLISH" });
        if (!text || text.includes("SERVER ENGLISH") || text.includes("{") || text === rule || text === code) bad.push(`${lang} ${code} ${rule}: ${text}`);
        if (rule && seen.has(text)) bad.push(`${lang} ${rule} shares its words with another rule: ${text}`);
        if (rule) seen.add(text);
      }
      if (lang === "ko" && /[A-Za-z]{4,}/.test(errorText({ code: "ballot_invalid", rule: "ranked.duplicate" }))) bad.push("English in Korean");
    }
    setLanguage("ko");
    return bad;
  }, { codes, rules });
  assert.deepEqual(untranslated, []);
  await f.close();
});

test("a first visit follows the browser's languages; switching re-renders every message", { timeout: 60000 }, async () => {
  const f = await forum({ title: "Riverside", language: "ko" });
  const en = await browser.newContext({ ...PHONE, locale: "en-US" });
  const page = await en.newPage();
  await page.goto(`${server.url}/j/${f.join_codes.remote}`);
  await page.locator("#join-submit").filter({ hasText: "Join" }).waitFor();
  assert.equal(await page.locator("html").getAttribute("lang"), "en");
  // The forum's title is shown before joining.
  await page.locator("#forum-title").filter({ hasText: "Riverside" }).waitFor();
  await screenshot(page, "phone-join-en");
  // A wrong code: the message is in English and focus goes to the code field.
  await page.locator("#join-code").fill("ZZZZZZ");
  await page.locator("#join-submit").click();
  await page.locator("#join-error").filter({ hasText: /not valid/ }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), "join-code");
  await page.locator("#lang").selectOption("ko");
  await page.locator("#join-error").filter({ hasText: /유효하지/ }).waitFor();
  await page.locator("#lang").selectOption("en");
  await page.locator("#join-error").filter({ hasText: /not valid/ }).waitFor();
  await en.close();

  const ko = await newPage(browser, PHONE, "phone-ko");
  await ko.goto(`${server.url}/j/${f.join_codes.remote}`);
  await ko.locator("#join-submit").filter({ hasText: "참여" }).waitFor();
  await ko.locator("#forum-title").filter({ hasText: "Riverside" }).waitFor();
  await screenshot(ko, "phone-join-ko");
  await noSeriousViolations(ko, "the join page");
  await f.close();
});

test("one device is one participant: no second identity, and no second ballot in a poll", { timeout: 60000 }, async () => {
  const f = await forum();
  const poll = await rankedPoll(f, ["그늘막", "분수"]);
  const first = await join(f);
  const me = await first.locator("#whoami").textContent();
  assert.equal(await first.locator("#leave").count(), 0, "no way to join again as someone else");
  await rankOptions(first, poll, [1, 2]);
  await first.locator(`#submit-${poll}`).click();
  await first.locator(`#ballot-state-${poll}[data-state="saved"]`).waitFor();

  // A second tab of the same browser, through the hall's code this time.
  const second = await first.context().newPage();
  await second.goto(`${server.url}/j/${f.join_codes.hall}`);
  await second.locator('#join-section:not([hidden]), #conn[data-status="online"]').first().waitFor();
  if (await second.locator("#join-section").isVisible()) {
    await second.locator("#join-submit").click();
  }
  await online(second).catch(async (e) => {
    await screenshot(second, "debug-second");
    throw new Error(`${e.message}: ${await second.locator("body").innerText()}`);
  });
  assert.equal(await second.locator("#whoami").textContent(), me, "the same participant");
  // Its ballot is this participant's: changing it replaces the one ballot.
  await second.locator(`[data-key="rk-d-${poll}-1"]`).click();
  await second.locator(`#submit-${poll}`).click();
  await second.locator(`#ballot-state-${poll}[data-state="saved"]`).waitFor();
  const view = await (await fetch(`${server.url}/api/forums/${f.id}`)).json();
  const tally = view.tallies.find((t) => t.poll === poll);
  assert.equal(tally.ballots ?? tally.total?.ballots ?? tally.voters, 1, JSON.stringify(tally));
  await f.close();
});

test("joining a closed forum leads to its results", { timeout: 60000 }, async () => {
  const f = await forum();
  const poll = await rankedPoll(f, ["그늘막", "분수"]);
  await f.command({ type: "close_poll", poll });
  await f.command({ type: "close_forum" });
  const page = await newPage(browser, PHONE, "phone-closed");
  await page.goto(`${server.url}/j/${f.join_codes.remote}`);
  await page.locator("#forum-title").filter({ hasText: "강변 공원 포럼" }).waitFor();
  const link = page.locator(`a[href*="${f.id}"]`);
  await link.first().waitFor();
  await page.locator("#closed-polls").filter({ hasText: "놀이터 순위" }).waitFor();
  await screenshot(page, "phone-join-closed-ko");
  await noSeriousViolations(page, "the join page of a closed forum");
  await f.close();
});

test("at 100% and 200% text: tap targets of 44 px, no letter-per-line buttons, short ranked rows, axe-core clean", { timeout: 120000 }, async () => {
  const f = await forum();
  const labels = [
    "어린이 놀이터 옆에 그늘막과 쉼터를 더 많이 설치하고 여름에는 물안개 분수를 운영합니다",
    "Plant more shade trees along the river path and add benches every hundred metres",
    "모래밭",
  ];
  const poll = await rankedPoll(f, labels);
  for (const [lang, locale] of [["ko", "ko-KR"], ["en", "en-US"]]) {
    const context = await browser.newContext({ ...PHONE, locale });
    const page = await context.newPage();
    await page.goto(`${server.url}/j/${f.join_codes.remote}`);
    await page.locator("#join-section:not([hidden])").waitFor();
    for (const percent of [100, 200]) {
      await textSize(page, percent);
      await screenshot(page, `phone-join-${lang}-${percent}`);
      await noModerateViolations(page, `the join page (${lang}, ${percent}%)`);
    }
    await textSize(page, 100);
    await page.locator("#join-submit").click();
    await online(page);
    assert.equal(await page.locator(".skip-link").textContent(), lang === "ko" ? "본문으로 건너뛰기" : "Skip to the content");
    await rankOptions(page, poll, [1, 2]);
    for (const percent of [100, 200]) {
      await textSize(page, percent);
      await page.evaluate(() => window.scrollTo(0, 0));
      await screenshot(page, `phone-vote-${lang}-${percent}`);
      await page.locator("#temp-section").scrollIntoViewIfNeeded();
      await screenshot(page, `phone-temperature-${lang}-${percent}`);
      await noModerateViolations(page, `the phone page (${lang}, ${percent}%)`);
      const problems = await page.evaluate(() => {
        const bad = [];
        for (const b of document.querySelectorAll(".rank-item button, .signals button")) {
          const r = b.getBoundingClientRect();
          if (r.width < 44 || r.height < 44) bad.push(`${b.getAttribute("aria-label") || b.textContent}: ${r.width}x${r.height}`);
        }
        for (const b of document.querySelectorAll(".signals button")) {
          // A word per line at most: wider than its longest word, and no word broken.
          const line = parseFloat(getComputedStyle(b).lineHeight) || 20;
          if (b.scrollWidth > b.clientWidth + 1) bad.push(`${b.textContent} overflows`);
          if (b.getBoundingClientRect().height > 3.5 * line) bad.push(`${b.textContent} is ${b.getBoundingClientRect().height}px tall`);
        }
        for (const l of document.querySelectorAll(".rank-label")) {
          const line = parseFloat(getComputedStyle(l).lineHeight) || 20;
          if (l.getBoundingClientRect().height > 3.2 * line) bad.push(`ranked row "${l.textContent.slice(0, 20)}" is ${Math.round(l.getBoundingClientRect().height / line)} lines`);
        }
        for (const track of document.querySelectorAll(".bar-track")) {
          const row = track.closest(".bar-row").getBoundingClientRect();
          if (track.getBoundingClientRect().width < row.width * 0.6) bad.push(`a bar collapsed to ${Math.round(track.getBoundingClientRect().width)}px of ${Math.round(row.width)}px`);
        }
        const names = [...document.querySelectorAll("section.results")].map((s) => s.getAttribute("aria-label"));
        if (new Set(names).size !== names.length) bad.push(`results landmarks share a name: ${names}`);
        for (const hd of document.querySelectorAll("h1, h2, h3, h4")) if (!hd.textContent.trim()) bad.push(`empty heading ${hd.id}`);
        return bad;
      });
      assert.deepEqual(problems, [], `${lang} ${percent}%`);
      // A cut label shows its whole text on a tap.
      const label = page.locator(".rank-label").first();
      const cut = (await label.boundingBox()).height;
      await label.click();
      assert.equal(await label.getAttribute("aria-expanded"), "true");
      if (percent === 200) assert.ok((await label.boundingBox()).height > cut, "the whole label is shown");
      await label.click();
    }
    await context.close();
  }
  await f.close();
});

test("the raise-hand hint says what the queue's policy does", { timeout: 60000 }, async () => {
  const f = await forum();
  const page = await join(f);
  const hint = page.locator("#speak-section .hint");
  await f.command({ type: "set_queue_policy", policy: "fifo" });
  await hint.filter({ hasText: "손을 든 순서대로" }).waitFor();
  assert.doesNotMatch(await hint.textContent(), /번갈아/);
  await f.command({ type: "set_queue_policy", policy: "alternate" });
  await hint.filter({ hasText: "번갈아" }).waitFor();
  await f.command({ type: "set_queue_policy", policy: "not_spoken_first" });
  await hint.filter({ hasText: "아직 발언하지 않은" }).waitFor();
  await page.locator("#lang").selectOption("en");
  await hint.filter({ hasText: "not spoken yet" }).waitFor();
  // No Korean message stays after switching to English (the forum's own texts, such as item titles, are the organizer's words).
  const pageWords = await page.evaluate(() => {
    const main = document.querySelector("main").cloneNode(true);
    for (const own of main.querySelectorAll(".current-title, .agenda-title, #join-forum")) own.remove();
    return main.textContent;
  });
  assert.doesNotMatch(pageWords, /[가-힣]/, pageWords.match(/.{0,40}[가-힣].{0,40}/s)?.[0]);
  await f.close();
});
