"""Accessibility of the main pages, scanned in the browser with axe-core.

axe.min.js comes from the npm package axe-core (tests/browser/vendor/package.json; `.ci/run` runs
`npm ci --prefix tests/browser/vendor`). The portal's Content-Security-Policy rightly refuses an
injected script, so the scan runs in a tab that bypasses CSP; every other test runs under it.
"""
import os

import pytest

from .harness import AXE, new_context, sign_in

MAIN_PAGES = (
    ('anonymous', '/login'),
    ('clerk', '/'),
    ('clerk', '/admin/inspection_issue/?page_size=20'),
    ('clerk', '/admin/inspection_issue/new/'),
    ('clerk', '/unit/1'),
    ('clerk', '/admin/handover_entry/daily/'),
)
# The WCAG 2.1 A/AA rules (axe's "best-practice" rules, such as landmarks, are left out).
WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']
# What the department asked for by name: a label on every form field, and readable contrast.
LABEL_RULES = ('label', 'select-name', 'aria-input-field-name', 'button-name', 'input-button-name')
CONTRAST_RULES = ('color-contrast',)
CONTRAST_FIX = ('Bootstrap 4 colours fail WCAG AA contrast (links and primary buttons #007bff '
                '3.97:1, badge-info 3.04:1, badge-success 3.13:1, navbar links 4.22:1); '
                'static/portal.css needs the darker palette given in the report.')


@pytest.fixture(scope='module')
def scans(browser, portal):
    """{(role, path): axe violations}, each page scanned once for all the checks below."""
    if not AXE.exists():
        message = 'axe-core is not installed: npm ci --prefix tests/browser/vendor'
        if os.environ.get('CI'):
            pytest.fail(message)
        pytest.skip(message)
    found = {}
    contexts = {}
    try:
        for role, path in MAIN_PAGES:
            context = contexts.get(role)
            if context is None:
                context = contexts[role] = new_context(browser, portal, bypass_csp=True)
                if role != 'anonymous':
                    tab = context.new_page()
                    _sign_in(tab, role, portal)
                    tab.close()
            tab = context.new_page()
            tab.goto(path)
            tab.add_script_tag(path=str(AXE))
            found[(role, path)] = tab.evaluate('''async (tags) => {
                const result = await axe.run(document, {resultTypes: ['violations'],
                                                        runOnly: {type: 'tag', values: tags}});
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
            }''', WCAG)
            tab.close()
    finally:
        for context in contexts.values():
            context.close()
    return found


def _sign_in(tab, role, portal):
    state = portal.sessions.get(role)
    if state is not None:
        tab.context.add_cookies(state['cookies'])
        return
    from .harness import sign_in
    sign_in(tab, role, portal.password)
    portal.sessions[role] = tab.context.storage_state()


def _report(scans, keep):
    return {'%s %s' % key: [(v['id'], v['impact'], v['nodes']) for v in found if keep(v)]
            for key, found in scans.items() if any(keep(v) for v in found)}


def test_no_critical_accessibility_violation_on_the_main_pages(scans):
    assert _report(scans, lambda v: v['impact'] == 'critical') == {}


def test_every_form_field_and_button_has_a_name(scans):
    assert _report(scans, lambda v: v['id'] in LABEL_RULES) == {}


def test_every_page_says_it_is_in_chinese(scans):
    """Screen readers pick the voice from <html lang>."""
    assert _report(scans, lambda v: v['id'] == 'html-has-lang') == {}


def test_text_is_readable_against_its_background(scans):
    assert _report(scans, lambda v: v['id'] in CONTRAST_RULES) == {}
