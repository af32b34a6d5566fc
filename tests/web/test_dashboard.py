"""The dashboard driven in headless Chromium: sign-in, pages, roles, masking, outcomes, audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from churnguard.config import load_settings
from churnguard.service import audit
from tests.web.conftest import PHONE, Dashboard, screenshot, sign_in, wait_for_charts

Opener = Callable[..., Any]


def test_unauthenticated_pages_redirect_to_login_and_errors_show(
    open_page: Opener, dashboard: Dashboard
) -> None:
    page = open_page("en-US")
    for path in ("/ui/", "/ui/worklist?level=red", f"/ui/customers/{dashboard.own_customer}"):
        page.goto(path)
        assert "/ui/login?next=" in page.url, path
    # a wrong password stays on the page with a readable error, in the page's language
    page.fill("input[name=user]", dashboard.users["manager"])
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error:not([hidden])")
    assert page.inner_text("#login-error") == "Wrong user name or password"
    assert "/ui/login" in page.url
    screenshot(page, "login-error-en")
    # the right one goes on to the page first asked for
    page.fill("input[name=password]", "correct horse battery 42")
    page.click("button[type=submit]")
    page.wait_for_url(f"**/ui/customers/{dashboard.own_customer}")
    assert dashboard.own_customer in page.inner_text("#subscriber")
    # signing out ends the session: pages redirect to the login page again
    page.click("#logout")
    page.wait_for_url("**/ui/login")
    page.goto("/ui/worklist")
    assert "/ui/login?next=" in page.url


def test_repeated_failed_sign_ins_are_throttled_with_a_readable_message(
    open_page: Opener, dashboard: Dashboard
) -> None:
    page = open_page("zh-CN")
    page.goto("/ui/login")
    for _ in range(6):
        page.fill("input[name=user]", "nobody.here")
        page.fill("input[name=password]", "wrong password")
        page.click("button[type=submit]")
        page.wait_for_selector("#login-error:not([hidden])")
    message = page.inner_text("#login-error")
    assert message.startswith("登录失败次数过多") and "{minutes}" not in message


def test_manager_overview_models_and_campaigns_render_charts(
    open_page: Opener, dashboard: Dashboard
) -> None:
    page = open_page("en-US")
    sign_in(page, dashboard.users["manager"])
    assert page.url.endswith("/ui/")
    wait_for_charts(page, "trend", "levels", "heatmap")
    assert page.locator("h1").inner_text() == "Churn early-warning overview"
    open_total = int(page.inner_text("#kpi-open").replace(",", ""))
    assert open_total > 0 and int(page.inner_text("#kpi-red").replace(",", "")) <= open_total
    # the heat map's cells add up to the open warnings with a tier and a level
    heat = page.evaluate(
        "() => document.getElementById('chart-heatmap').data[0].z.flat().reduce((a, b) => a + b)"
    )
    assert 0 < heat <= open_total
    screenshot(page, "overview-en")

    page.click("nav >> text=Models")
    wait_for_charts(page, "gain", "calibration", "psi")
    assert "lightgbm" in page.inner_text("#models")
    screenshot(page, "models-en")

    page.click("nav >> text=Campaigns")
    page.wait_for_selector("#campaigns")
    assert "Incremental retention" in page.inner_text("#campaigns thead")
    screenshot(page, "campaigns-en")
    page.click(f"#campaigns a[href='/ui/campaigns/{dashboard.campaign_id}']")
    wait_for_charts(page, "funnel")
    funnel = page.evaluate("() => document.getElementById('chart-funnel').data[0].x")
    assert len(funnel) == 4 and funnel[0] >= funnel[1] >= funnel[2] >= funnel[3]
    screenshot(page, "campaign-en")


def test_worklist_filters_sorts_pages_and_opens_a_customer(
    open_page: Opener, dashboard: Dashboard
) -> None:
    page = open_page("en-US")
    sign_in(page, dashboard.users["manager"], goto="/ui/worklist")
    everything = int(page.get_attribute("#worklist-total", "data-total") or 0)
    assert everything > 25 and page.locator("#worklist tbody tr").count() == 25
    page.click("a[rel=next]")
    page.wait_for_url("**page=2**")
    assert page.locator("#worklist tbody tr").count() > 0

    page.select_option("select[name=level]", "red")
    page.select_option("select[name=sort]", "probability")
    page.click("#worklist-filters button[type=submit]")
    page.wait_for_url("**level=red**")
    red = int(page.get_attribute("#worklist-total", "data-total") or 0)
    assert 0 < red < everything
    rows = page.locator("#worklist tbody tr")
    levels = rows.evaluate_all("rs => rs.map(r => r.dataset.level)")
    probs = rows.evaluate_all("rs => rs.map(r => parseFloat(r.dataset.probability))")
    assert set(levels) == {"red"}
    assert probs == sorted(probs, reverse=True)
    screenshot(page, "worklist-en")

    page.select_option("select[name=queue]", dashboard.agent_queue)
    page.click("#worklist-filters button[type=submit]")
    page.wait_for_url(f"**queue={dashboard.agent_queue}**")
    queues = page.locator("#worklist tbody tr").evaluate_all("rs => rs.map(r => r.dataset.queue)")
    assert set(queues) <= {dashboard.agent_queue}

    # a click on a row opens the customer 360 view with its charts
    page.goto("/ui/worklist")
    first = page.locator("#worklist tbody tr").first
    sid = first.locator("td").first.inner_text()
    first.locator("td.reasons").click()
    page.wait_for_url(f"**/ui/customers/{sid}")
    wait_for_charts(page, "usage", "bills")
    assert page.locator("#reasons li").count() > 0
    assert "****" in page.inner_text("#profile-msisdn")  # managers see masked data by default


def test_agent_sees_own_queue_masked_records_outcome_and_manager_audits_it(
    open_page: Opener, dashboard: Dashboard
) -> None:
    page = open_page("en-US")
    seen: list[str] = []

    def visit(path: str) -> Any:
        response = page.goto(path)
        seen.append(page.content())
        return response

    sign_in(page, dashboard.users["agent"])
    seen.append(page.content())
    visit("/ui/worklist")
    queues = page.locator("#worklist tbody tr").evaluate_all("rs => rs.map(r => r.dataset.queue)")
    assert queues and set(queues) == {dashboard.agent_queue}
    assert [o for o in page.locator("select[name=queue] option").all_inner_texts() if o != "All"]
    screenshot(page, "worklist-agent-en")
    visit("/ui/campaigns")
    visit(f"/ui/campaigns/{dashboard.campaign_id}")
    members = page.locator("#members tbody tr").count()
    assert members > 0

    visit(f"/ui/customers/{dashboard.own_customer}")
    wait_for_charts(page, "usage", "bills")
    assert "****" in page.inner_text("#profile-msisdn")
    assert page.inner_text("#profile-name").endswith("*")
    page.select_option("#record-form select[name=campaign_id]", str(dashboard.campaign_id))
    page.select_option("#record-form select[name=result]", "accepted")
    page.fill("#record-form input[name=note]", "call back on 13912345678 after 6pm")
    page.click("#record-form button[type=submit]")
    page.wait_for_selector("#saved")
    seen.append(page.content())
    contacts = page.inner_text("#contacts")
    assert "Accepted" in contacts and "139****5678" in contacts
    screenshot(page, "customer-agent-en")

    # another queue's customer, the models page and the audit log are not the agent's
    r = visit(f"/ui/customers/{dashboard.foreign_customer}")
    assert r.status == 404 and "not in your queues" in page.inner_text("main")
    r = visit("/ui/models")
    assert r.status == 403 and "Your role may not see this page" in page.inner_text("h1")
    screenshot(page, "forbidden-en")
    assert visit("/ui/audit").status == 403
    r = visit("/ui/worklist?queue=no_such_queue")
    assert r.status == 403
    for html in seen:
        assert not PHONE.search(html), PHONE.search(html)

    # the manager finds the outcome in the audit log page, without the note
    page = open_page("en-US")
    sign_in(page, dashboard.users["manager"], goto="/ui/audit")
    page.select_option("select[name=action]", "contact.result_recorded")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**action=contact.result_recorded**")
    row = page.locator("#audit tbody tr").first
    target = f"campaign:{dashboard.campaign_id}/subscriber:{dashboard.own_customer}"
    assert row.locator("td.target").inner_text() == target
    assert dashboard.users["agent"] in row.inner_text() and "accepted" in row.inner_text()
    assert "13912345678" not in page.content()
    screenshot(page, "audit-en")


def test_clear_text_view_is_audited_for_admin(open_page: Opener, dashboard: Dashboard) -> None:
    settings = load_settings(dashboard.workspace)
    before, _ = audit.list_events(settings, action="customer.viewed_clear_text")
    page = open_page("en-US")
    sign_in(page, dashboard.users["admin"], goto=f"/ui/customers/{dashboard.foreign_customer}")
    assert PHONE.fullmatch(page.inner_text("#profile-msisdn"))  # admin: clear text by default
    after, events = audit.list_events(settings, action="customer.viewed_clear_text")
    assert after == before + 1
    assert events[0]["target"] == dashboard.foreign_customer
    assert events[0]["actor"] == dashboard.users["admin"]


def test_language_follows_the_browser_and_switches_on_every_page(
    open_page: Opener, dashboard: Dashboard
) -> None:
    page = open_page("zh-CN")
    page.goto("/ui/login")
    assert page.locator("h1").inner_text() == "登录"
    sign_in(page, dashboard.users["analyst"])
    wait_for_charts(page, "trend", "levels", "heatmap")
    assert page.locator("h1").inner_text() == "流失预警总览"
    assert "挽留成功率" in page.inner_text(".kpis") and "预警准确率" in page.inner_text(".kpis")
    screenshot(page, "overview-zh")

    page.goto("/ui/worklist?level=red")
    assert "红色预警" in page.inner_text("#worklist")
    screenshot(page, "worklist-zh")
    page.click("a.lang[data-lang=en]")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert "level=red" in page.url  # back on the same page, same filters
    assert page.locator("h1").inner_text() == "Warning worklist"
    assert "Red warning" in page.inner_text("#worklist")
    # the choice sticks (cookie) over the browser's Accept-Language
    page.goto(f"/ui/customers/{dashboard.own_customer}")
    wait_for_charts(page, "usage", "bills")
    assert page.locator("h1").inner_text().startswith("Customer 360")
    page.click("a.lang[data-lang=zh-CN]")
    page.wait_for_function("document.documentElement.lang === 'zh-CN'")
    wait_for_charts(page, "usage", "bills")
    assert page.locator("h1").inner_text().startswith("客户 360 视图")
    assert "推荐挽留方案" in page.inner_text("main")
    screenshot(page, "customer-zh")
    page.goto(f"/ui/campaigns/{dashboard.campaign_id}")
    wait_for_charts(page, "funnel")
    assert "挽留漏斗" in page.content() and "对照组" in page.inner_text("main")
    screenshot(page, "campaign-zh")
    page.goto("/ui/audit")  # analysts may not read the audit log: a readable page
    assert "您的角色无权查看此页面" in page.inner_text("h1")


def test_team_performance_page_for_readers_only_in_both_languages(
    open_page: Opener, dashboard: Dashboard
) -> None:
    from churnguard.retention.team_kpi import team_kpis

    settings = load_settings(dashboard.workspace)
    expected = team_kpis(settings, by="team").set_index("team")
    page = open_page("en-US")
    sign_in(page, dashboard.users["manager"])
    page.click("nav >> text=Team performance")
    page.wait_for_selector("#teams")
    assert page.locator("h1").inner_text() == "Team performance"
    wait_for_charts(page, "teams")
    rows = page.locator("#teams tbody tr")
    assert rows.count() == len(expected)
    first = rows.nth(0).locator("td")
    assert first.nth(0).inner_text() == expected.index[0]
    assert int(first.nth(1).inner_text().replace(",", "")) == expected["warnings"].iloc[0]
    screenshot(page, "teams-en")
    page.click("#team-dims >> text=Region")
    page.wait_for_url("**/ui/teams?by=region")
    assert "Warning accuracy" in page.inner_text("#teams thead")
    assert page.goto(f"{dashboard.url}/ui/teams?by=planet").status == 422

    zh = open_page("zh-CN")
    sign_in(zh, dashboard.users["analyst"], goto="/ui/teams?by=queue")
    assert zh.locator("h1").inner_text() == "团队绩效"
    assert "按时处理率" in zh.inner_text("#teams thead")
    screenshot(zh, "teams-zh")

    agent = open_page("en-US")
    sign_in(agent, dashboard.users["agent"])
    assert agent.locator("nav >> text=Team performance").count() == 0
    r = agent.goto(f"{dashboard.url}/ui/teams")
    assert r.status == 403 and not PHONE.search(agent.content())


def test_winback_campaign_page_shows_return_rates(open_page: Opener, dashboard: Dashboard) -> None:
    from datetime import date

    from churnguard.retention.winback import plan_winback

    settings = load_settings(dashboard.workspace)
    plan = plan_winback(settings, as_of="2024-11", budget=1500, run_date=date(2024, 12, 1))
    page = open_page("zh-CN")
    sign_in(page, dashboard.users["manager"], goto="/ui/campaigns")
    row = page.locator(f"#campaigns tr[data-href='/ui/campaigns/{plan.plan.campaign_id}']")
    assert "挽回" in row.inner_text()
    page.goto(f"{dashboard.url}/ui/campaigns/{plan.plan.campaign_id}")
    wait_for_charts(page, "funnel")
    assert "增量挽回率" in page.inner_text("section.kpis")
    assert "每挽回一位客户的成本" in page.inner_text("section.kpis")
    assert not PHONE.search(page.content())
    screenshot(page, "campaign-winback-zh")
