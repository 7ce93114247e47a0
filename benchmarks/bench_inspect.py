"""现场验收: the time from the inspector's tap to the issue stored, for an issue with a 3 MB photo,
and the size of what the tablet uploads for it — against sending the photo as taken.

    .venv/bin/python benchmarks/bench_inspect.py            # 5 issues per case
    .venv/bin/python benchmarks/bench_inspect.py --runs 2   # quicker

The portal runs as people run it (`python app.py --demo`, waitress, SQLite with synchronous=FULL)
in a temporary folder; Debian's chromium (Playwright) is a tablet (820×1180) signed in as the
clerk on /inspect/. The photo is a 4000×3000 JPEG of about 3 MB made by the browser itself.

For each issue: the photo is chosen (the page compresses it: longest side 1600 px, JPEG 0.72),
then 保存 is tapped; the time runs from that tap until the portal's answer says it is stored and
the page's queue is empty. The baseline of the same run is the same item sent by the page with
the photo as taken (no compression). Both are measured on the local connection and on a site
connection emulated by chromium (upload 2 Mbit/s, download 8 Mbit/s, 120 ms latency: a weak 4G
signal in a stairwell).
"""
import argparse
import base64
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

PASSWORD = 'Bench-Inspect-2026!'
CHROMIUM = os.environ.get('KEFU_CHROMIUM') or shutil.which('chromium') or '/usr/bin/chromium'
SITE = {'offline': False, 'latency': 120, 'uploadThroughput': 2_000_000 / 8,
        'downloadThroughput': 8_000_000 / 8}
LOCAL = {'offline': False, 'latency': 0, 'uploadThroughput': -1, 'downloadThroughput': -1}


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def start_portal(work):
    port = free_port()
    env = dict(os.environ, KEFU_INSTANCE_PATH=work, KEFU_DATABASE_URL='sqlite:///' + os.path.join(work, 'kefu.db'),
               KEFU_DEMO_PASSWORD=PASSWORD, KEFU_SECRET_KEY='bench-inspect', PYTHONUNBUFFERED='1')
    log = open(os.path.join(work, 'server.log'), 'w')
    process = subprocess.Popen([sys.executable, 'app.py', '--demo', '--port', str(port)], cwd=ROOT,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    base = 'http://127.0.0.1:%d' % port
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit('the portal stopped while starting: see %s/server.log' % work)
        try:
            with urllib.request.urlopen(base + '/healthz', timeout=2) as response:
                if response.status == 200:
                    return process, base
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit('the portal did not start within 180 s')


def big_photo(page):
    """A 4000×3000 JPEG of about 3 MB (texture and noise, as a wall photographed on site)."""
    for quality in (0.97, 0.95, 0.92, 0.9, 0.85, 0.8):
        data = base64.b64decode(page.evaluate('''(q) => {
            const w = 4000, h = 3000, c = document.createElement('canvas'); c.width = w; c.height = h;
            const g = c.getContext('2d'), grad = g.createLinearGradient(0, 0, w, h);
            grad.addColorStop(0, '#cfc2a8'); grad.addColorStop(1, '#6f7d8c');
            g.fillStyle = grad; g.fillRect(0, 0, w, h);
            const img = g.getImageData(0, 0, w, h); let seed = 7;
            for (let i = 0; i < img.data.length; i += 4) {
                seed = (seed * 1103515245 + 12345) & 0x7fffffff;
                const n = ((seed >> 8) % 41) - 20;
                img.data[i] += n; img.data[i + 1] += n; img.data[i + 2] += n;
            }
            g.putImageData(img, 0, 0);
            g.strokeStyle = '#2b241d'; g.lineWidth = 6; g.beginPath();
            g.moveTo(1200, 1300); g.lineTo(2100, 1500); g.lineTo(2600, 1420); g.stroke();
            return c.toDataURL('image/jpeg', q).split(',')[1];
        }''', quality))
        if len(data) <= 3_300_000:
            return data
    return data


def count_uploads(page):
    """Measure what the page uploads: the size of each item's multipart body (FormData with a Blob
    is not visible to the browser's request log)."""
    page.evaluate('''() => { const original = window.fetch;
        window.fetch = function (url, options) {
            if (String(url).indexOf('/inspect/api/items') >= 0 && options && options.body instanceof FormData) {
                window.__uploadSizes = [new Response(options.body).arrayBuffer().then(b => b.byteLength)];
            }
            return original.apply(this, arguments);
        }; }''')


def one_issue(page, picture, n, uploads):
    """Add one issue with the photo on the open unit as the inspector does; (seconds from the tap
    on 保存 to the issue stored and the queue empty, bytes uploaded)."""
    page.get_by_role('button', name='＋ 新增问题').click()
    page.locator('#rooms button').nth(n % 5).click()
    page.locator('#categories button').nth(n % 6).click()
    page.locator('#description').fill('基准测试 第%d条 墙面空鼓开裂（%s）' % (n, time.time()))
    page.locator('#photo').set_input_files({'name': 'IMG_%04d.jpg' % n, 'mimeType': 'image/jpeg',
                                            'buffer': picture})
    page.locator('#photo-size:has-text("→")').wait_for(timeout=60000)
    page.evaluate('window.__uploaded = []')
    with page.expect_response(lambda r: r.url.endswith('/inspect/api/items') and
                              r.request.method == 'POST', timeout=120000) as answer:
        started = time.perf_counter()
        page.locator('#save-issue').click()
    assert answer.value.status == 200, answer.value.text()
    page.locator('#queue-count:text-is("0")').wait_for(timeout=120000)
    elapsed = time.perf_counter() - started
    return elapsed, sum(page.evaluate('Promise.all(window.__uploadSizes || [])'))


def raw_issue(page, picture_b64, n, unit_id, project_id):
    """The baseline: the same item sent with the photo as taken (no compression), timed from the
    send to the portal's answer; (seconds, bytes uploaded)."""
    return page.evaluate('''async ([b64, n, unit, project]) => {
        const raw = atob(b64), bytes = new Uint8Array(raw.length);
        for (let i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
        const me = await (await fetch('/inspect/api/me')).json();
        const item = {client_id: crypto.randomUUID(), kind: 'issue', project: project, unit: unit,
            location: '客厅', category: '观感色差卫生', description: '基准（原图）第' + n + '条 墙面空鼓开裂'};
        const body = new FormData();
        body.append('item', JSON.stringify(item));
        body.append('photo', new Blob([bytes], {type: 'image/jpeg'}), 'IMG.jpg');
        const size = new Response(body).arrayBuffer();
        const started = performance.now();
        const answer = await fetch('/inspect/api/items', {method: 'POST', body: body,
            headers: {'X-CSRFToken': me.csrf}});
        const ok = (await answer.json()).ok;
        const elapsed = (performance.now() - started) / 1000;
        return [ok ? elapsed : -1, (await size).byteLength];
    }''', [picture_b64, n, unit_id, project_id])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=5, help='issues per case (default 5)')
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    work = tempfile.mkdtemp(prefix='kefu-bench-inspect-')
    process, base = start_portal(work)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=['--no-sandbox', '--disable-gpu'])
            context = browser.new_context(viewport={'width': 820, 'height': 1180}, has_touch=True,
                                          base_url=base, locale='zh-CN')
            page = context.new_page()
            page.goto('/login')
            page.get_by_label('用户名').fill('clerk')
            page.get_by_label('密码').fill(PASSWORD)
            page.get_by_role('button', name='登录').click()
            page.wait_for_load_state()
            page.goto('/inspect/')
            page.wait_for_selector('body[data-ready="1"]')
            page.locator('#building').select_option('2栋')
            cell = page.locator('#grid .cell').first
            unit_id = int(cell.get_attribute('data-unit'))
            project_id = int(page.locator('#project').input_value())
            cell.click()
            uploads = []
            count_uploads(page)
            picture = big_photo(page)
            picture_b64 = base64.b64encode(picture).decode()
            cdp = context.new_cdp_session(page)
            cdp.send('Network.enable')
            print('现场验收 benchmark: one issue with a %.2f MB photo (4000×3000 JPEG), %d issues per case'
                  % (len(picture) / 1e6, args.runs))
            print('portal %s (waitress, SQLite synchronous=FULL), chromium %s, tablet 820×1180\n'
                  % (base, browser.version))
            print('%-46s %11s %11s %13s' % ('case', 'median', 'max', 'uploaded'))
            results, n = {}, 0
            for network_name, network in (('local', LOCAL), ('site 4G', SITE)):
                cdp.send('Network.emulateNetworkConditions', network)
                for compressed in (True, False):
                    times, sizes = [], []
                    for _ in range(args.runs):
                        n += 1
                        if compressed:
                            elapsed, size = one_issue(page, picture, n, uploads)
                        else:
                            elapsed, size = raw_issue(page, picture_b64, n, unit_id, project_id)
                            assert elapsed >= 0, 'the baseline item was refused'
                        times.append(elapsed)
                        sizes.append(size)
                    label = '%s, %s' % (network_name, 'tap→stored, compressed on the tablet'
                                        if compressed else 'baseline: photo as taken')
                    results[(network_name, compressed)] = (statistics.median(times), statistics.median(sizes))
                    print('%-46s %9.2f s %9.2f s %10.0f KB' % (label, statistics.median(times),
                                                               max(times), statistics.median(sizes) / 1024))
            compress_ms = page.evaluate('window.__inspectLastCompressMs || 0')
            print('\ncompression on the tablet (decode 4000×3000, scale to 1600 px, JPEG 0.72): %.0f ms, '
                  'done when the photo is taken, before the tap' % compress_ms)
            for name in ('local', 'site 4G'):
                small, raw = results[(name, True)], results[(name, False)]
                print('%-8s upload %.1f%% of the photo as taken (%.1fx smaller); time %.2fx the baseline'
                      % (name, 100 * small[1] / raw[1], raw[1] / small[1], small[0] / raw[0]))
            browser.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
